/**
 * The LDAP tests' setup on a machine without OpenLDAP (a fresh Debian machine
 * with only npm): it installs slapd and ldap-utils with apt-get when it runs
 * as root, and otherwise fails saying what to install. apt-get here is a
 * stand-in script that records how it was called and installs into a temp folder.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureSlapdInstalled } from './ldap-server'

const dir = mkdtempSync(join(tmpdir(), 'iceprod-ldap-setup-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let seq = 0

/** A fresh "machine": where slapd and slapadd would be, and an apt-get that installs them there (or fails). */
function machine(apt: 'installs' | 'fails' | 'installs nothing' = 'installs') {
  const root = join(dir, `machine${++seq}`)
  const binaries = [join(root, 'slapd'), join(root, 'slapadd')]
  const calls = join(root, 'apt-get.calls')
  const aptGet = join(dir, `apt-get${seq}`)
  const onInstall =
    apt === 'installs' ? binaries.map((b) => `printf '#!/bin/sh\\n' > '${b}'; chmod +x '${b}'`).join('; ')
    : apt === 'fails' ? "echo 'E: Unable to locate package slapd' >&2; exit 100"
    : 'true'
  writeFileSync(aptGet, `#!/bin/sh\nmkdir -p '${root}'\necho "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> '${calls}'\nif [ "$1" = install ]; then ${onInstall}; fi\n`)
  chmodSync(aptGet, 0o755)
  const lines: string[] = []
  return { binaries, aptGet, calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []), lines, log: (line: string) => lines.push(line) }
}

describe('OpenLDAP for the LDAP tests', () => {
  test('missing, as root with apt-get: installs slapd and ldap-utils non-interactively, then goes on', async () => {
    const m = machine()
    await ensureSlapdInstalled({ binaries: m.binaries, root: true, aptGet: m.aptGet, log: m.log })
    expect(m.calls()).toEqual(['DEBIAN_FRONTEND=noninteractive update -qq', 'DEBIAN_FRONTEND=noninteractive install -y -qq --no-install-recommends slapd ldap-utils'])
    expect(m.binaries.every((b) => existsSync(b))).toBe(true)
    expect(m.lines).toEqual([expect.stringContaining('installing slapd and ldap-utils with apt-get')])
    // Installed now: a second check runs nothing.
    await ensureSlapdInstalled({ binaries: m.binaries, root: true, aptGet: m.aptGet, log: m.log })
    expect(m.calls()).toHaveLength(2)
  })

  test('missing, not root or without apt-get: fails saying what to install, and runs nothing', async () => {
    for (const [root, withApt] of [[false, true], [true, false], [false, false]] as const) {
      const m = machine()
      const attempt = ensureSlapdInstalled({ binaries: m.binaries, root, aptGet: withApt ? m.aptGet : null, log: m.log })
      await expect(attempt).rejects.toThrow('install it with "apt-get install slapd ldap-utils" as root')
      await attempt.catch(() => {})
      expect(m.calls()).toEqual([])
    }
  })

  test('an apt-get that fails, or installs without providing slapd, fails the setup with its reason', async () => {
    const failing = machine('fails')
    await expect(ensureSlapdInstalled({ binaries: failing.binaries, root: true, aptGet: failing.aptGet, log: failing.log })).rejects.toThrow(
      /"apt-get install -y -qq --no-install-recommends slapd ldap-utils" failed \(exit 100\): E: Unable to locate package slapd/,
    )
    const empty = machine('installs nothing')
    await expect(ensureSlapdInstalled({ binaries: empty.binaries, root: true, aptGet: empty.aptGet, log: empty.log })).rejects.toThrow('still not found')
  })

  test('present: nothing is installed (this machine: the real slapd the LDAP tests start)', async () => {
    const m = machine()
    await ensureSlapdInstalled({ root: true, aptGet: m.aptGet, log: m.log })
    expect(m.calls()).toEqual([])
    expect(m.lines).toEqual([])
  })
})
