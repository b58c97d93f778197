/**
 * A real OpenLDAP slapd for tests: its own config, data and loopback port in a
 * temp folder, loaded with a small directory. On a machine without OpenLDAP
 * the first start installs it (Debian's slapd and ldap-utils) when it can.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDebianPackages, type InstallOptions } from './debian-packages'

export const LDAP_BASE = 'ou=People,dc=example,dc=org'

export const PROXIED_USERS = 30

/** Users in the test directory: uid → password. */
export const LDAP_USERS = {
  alice: 'alice-password',
  // DN special characters in the uid: they must not change the DN.
  'o,brien+x=y\\ (z)*#': 'odd-password',
  // Users of a web front end that logs them in at once through one proxy address.
  ...Object.fromEntries(Array.from({ length: PROXIED_USERS }, (_, i) => [`proxied${i}`, `proxied${i}-password`])),
}

/** Every port freePort has handed out in this process: none is handed out twice. */
const handedOut = new Set<number>()

/**
 * Under `bun test --parallel` each worker takes only the ports of its own
 * share (BUN_TEST_WORKER_ID counts from 1; test/preload.ts says how many
 * workers share), so that two workers never hand out the same port; a serial
 * run takes any. The share is of port / 2, as Linux binds mostly even ports.
 */
const PORT_SHARES = Math.max(1, Number(process.env.ICEPROD_TEST_WORKERS) || 4)
const worker = Number(process.env.BUN_TEST_WORKER_ID)
const portShare = Number.isInteger(worker) && worker > 0 ? worker % PORT_SHARES : undefined
const shareOfPort = (port: number) => Math.floor(port / 2) % PORT_SHARES

/**
 * A loopback port free now and never handed out before by this process: the
 * port is closed again for its user to bind, and the system may well draw it
 * again at once, so tests running at the same time would otherwise share it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await systemFreePort()
    if (handedOut.has(port) || (portShare !== undefined && shareOfPort(port) !== portShare)) continue
    handedOut.add(port)
    return port
  }
}

function systemFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

function escapeLdif(value: string): string {
  let out = ''
  for (const byte of Buffer.from(value, 'utf8')) out += '\\' + byte.toString(16).padStart(2, '0')
  return out
}

export interface Slapd {
  url: string
  stop(): Promise<void>
}

/** What the LDAP tests run, and the Debian packages that hold it. */
const SLAPD = '/usr/sbin/slapd'
const SLAPADD = '/usr/sbin/slapadd'
export const SLAPD_BINARIES = [SLAPD, SLAPADD]
export const SLAPD_PACKAGES = ['slapd', 'ldap-utils']

export type SlapdInstallOptions = InstallOptions

/** slapd and slapadd, from Debian's slapd and ldap-utils (installed by the test setup when it can, see debian-packages.ts). */
export function ensureSlapdInstalled(options: SlapdInstallOptions = {}): Promise<void> {
  return ensureDebianPackages({ purpose: 'the LDAP tests need OpenLDAP', binaries: SLAPD_BINARIES, packages: SLAPD_PACKAGES }, options)
}

/** One installation check per test run, however many files start a slapd. */
let installed: Promise<void> | undefined

export async function startSlapd(): Promise<Slapd> {
  await (installed ??= ensureSlapdInstalled())
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-slapd-'))
  mkdirSync(join(dir, 'data'))
  const conf = join(dir, 'slapd.conf')
  writeFileSync(
    conf,
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${dir}/slapd.pid
database mdb
maxsize 10485760
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw admin-password
directory ${dir}/data
`,
  )
  const entries = [
    'dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n',
    `dn: ${LDAP_BASE}\nobjectClass: organizationalUnit\nou: People\n`,
    ...Object.entries(LDAP_USERS).map(
      ([uid, password]) =>
        `dn: uid=${escapeLdif(uid)},${LDAP_BASE}\nobjectClass: inetOrgPerson\nuid:: ${Buffer.from(uid).toString('base64')}\ncn: test\nsn: test\nuserPassword: ${password}\n`,
    ),
  ]
  writeFileSync(join(dir, 'data.ldif'), entries.join('\n'))
  const add = Bun.spawnSync([SLAPADD, '-f', conf, '-l', join(dir, 'data.ldif')], { stderr: 'pipe' })
  if (add.exitCode !== 0) throw new Error(`slapadd failed: ${add.stderr.toString()}`)

  const port = await freePort()
  const url = `ldap://127.0.0.1:${port}`
  const proc = Bun.spawn([SLAPD, '-f', conf, '-h', `${url}/`, '-d', '0'], { stdout: 'ignore', stderr: 'pipe' })
  // Ready when the port accepts connections.
  for (let i = 0; ; i++) {
    const ok = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    )
    if (ok) break
    if (i > 1000 || proc.exitCode !== null) throw new Error('slapd did not start')
    await Bun.sleep(5)
  }
  return {
    url,
    async stop() {
      proc.kill()
      await proc.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A TCP server that accepts connections and never answers: an LDAP server that hangs. */
export async function startSilentServer(): Promise<{ url: string; connections(): number; stop(): void }> {
  const port = await freePort()
  let connections = 0
  const server = Bun.listen({ hostname: '127.0.0.1', port, socket: { open() { connections++ }, data() {} } })
  return { url: `ldap://127.0.0.1:${port}`, connections: () => connections, stop: () => server.stop(true) }
}
