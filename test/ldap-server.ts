/**
 * A real OpenLDAP slapd for tests: its own config, data and loopback port in a
 * temp folder, loaded with a small directory. On a machine without OpenLDAP
 * the first start installs it (Debian's slapd and ldap-utils) when it can.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const LDAP_BASE = 'ou=People,dc=example,dc=org'

/** Users in the test directory: uid → password. */
export const LDAP_USERS = {
  alice: 'alice-password',
  // DN special characters in the uid: they must not change the DN.
  'o,brien+x=y\\ (z)*#': 'odd-password',
}

export async function freePort(): Promise<number> {
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

export interface SlapdInstallOptions {
  binaries?: string[]
  /** Whether this process may install packages (runs as root). */
  root?: boolean
  /** apt-get's path; null when the machine has none. */
  aptGet?: string | null
  /** Where progress lines go. */
  log?: (line: string) => void
}

const isExecutable = (path: string) => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * Makes sure slapd and slapadd are there: when they are missing, installs
 * slapd and ldap-utils with apt-get if this process runs as root and the
 * machine has apt-get (as on a fresh Debian machine or in CI), and otherwise
 * fails saying what to install. The LDAP tests never skip.
 */
export async function ensureSlapdInstalled(options: SlapdInstallOptions = {}): Promise<void> {
  const binaries = options.binaries ?? SLAPD_BINARIES
  const root = options.root ?? process.getuid?.() === 0
  const aptGet = options.aptGet === undefined ? Bun.which('apt-get') : options.aptGet
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const missing = () => binaries.filter((path) => !isExecutable(path))
  if (missing().length === 0) return
  const install = `apt-get install ${SLAPD_PACKAGES.join(' ')}`
  if (!root || !aptGet) {
    throw new Error(
      `the LDAP tests need OpenLDAP (${missing().join(' and ')} not found): install it with "${install}" as root, ` +
        `or run "bun test" as root on a machine with apt-get, which installs it`,
    )
  }
  log(`test setup: ${missing().join(' and ')} not found; installing ${SLAPD_PACKAGES.join(' and ')} with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...SLAPD_PACKAGES]]) {
    const run = Bun.spawn([aptGet, ...args], { env, stdout: 'ignore', stderr: 'pipe' })
    const [code, stderr] = await Promise.all([run.exited, new Response(run.stderr).text()])
    if (code !== 0) throw new Error(`"apt-get ${args.join(' ')}" failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}; install it by hand: "${install}"`)
  }
  if (missing().length > 0) throw new Error(`${missing().join(' and ')} still not found after "${install}"`)
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
    if (i > 100 || proc.exitCode !== null) throw new Error('slapd did not start')
    await Bun.sleep(50)
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
