/**
 * What the tests run from Debian's packages (OpenLDAP's slapd, Chromium):
 * when a program is missing, the test setup installs its packages with
 * apt-get if this process runs as root and the machine has apt-get (as on a
 * fresh Debian machine or in CI), and otherwise fails saying what to
 * install. The tests that need them never skip.
 */
import { accessSync, constants } from 'node:fs'

export interface InstallOptions {
  binaries?: string[]
  /** Whether this process may install packages (runs as root). */
  root?: boolean
  /** apt-get's path; null when the machine has none. */
  aptGet?: string | null
  /** Where progress lines go. */
  log?: (line: string) => void
}

export interface Needed {
  /** Who needs them, for the message: "the LDAP tests need OpenLDAP". */
  purpose: string
  binaries: string[]
  packages: string[]
}

const isExecutable = (path: string) => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

export async function ensureDebianPackages(needed: Needed, options: InstallOptions = {}): Promise<void> {
  const binaries = options.binaries ?? needed.binaries
  const root = options.root ?? process.getuid?.() === 0
  const aptGet = options.aptGet === undefined ? Bun.which('apt-get') : options.aptGet
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const missing = () => binaries.filter((path) => !isExecutable(path))
  if (missing().length === 0) return
  const install = `apt-get install ${needed.packages.join(' ')}`
  if (!root || !aptGet) {
    throw new Error(
      `${needed.purpose} (${missing().join(' and ')} not found): install it with "${install}" as root, ` +
        `or run "bun test" as root on a machine with apt-get, which installs it`,
    )
  }
  log(`test setup: ${missing().join(' and ')} not found; installing ${needed.packages.join(' and ')} with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...needed.packages]]) {
    const run = Bun.spawn([aptGet, ...args], { env, stdout: 'ignore', stderr: 'pipe' })
    const [code, stderr] = await Promise.all([run.exited, new Response(run.stderr).text()])
    if (code !== 0) throw new Error(`"apt-get ${args.join(' ')}" failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}; install it by hand: "${install}"`)
  }
  if (missing().length > 0) throw new Error(`${missing().join(' and ')} still not found after "${install}"`)
}
