/**
 * Configuration: command-line flags override ICEPROD_* environment variables,
 * which override the defaults below. `SETTINGS` is the one table that the CLI
 * help and the README's configuration table are checked against.
 */
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
// The lock's own module, not db/: the CLI reads the settings without loading the database code.
import { DEFAULT_LOCK_TIMEOUT_MS } from './db/write-lock'

export interface Config {
  host: string
  port: number
  db: string
  jwtSecret?: string
  jwtSecretFile?: string
  maxBody: number
  ldapUrl?: string
  ldapBase?: string
  ldapTimeoutMs: number
  tokenTtl: number
  tempTokenTtl: number
  clockSkew: number
  lockTimeoutMs: number
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent'
  /** The scheduler of API.md §6; off, the server only stores and answers. */
  scheduler: boolean
  /** Failures a task may have before a reset makes it `failed`, for datasets without `max_failures`. */
  maxFailures: number
  /** Most jobs of one dataset the scheduler keeps processing at once. */
  bufferJobs: number
  /** Seconds between the scheduler's sweeps for lost tasks and silent pilots. */
  sweepInterval: number
  /** Seconds a processing task no pilot lists is left alone before the sweep resets it. */
  taskGrace: number
  /** Seconds without news after which the sweep deletes a pilot; 0: never. */
  pilotTimeout: number
}

export interface Setting {
  key: keyof Config
  flag?: string
  /** The flag's value as the help shows it, e.g. FILE. */
  placeholder?: string
  env: string
  /** The value used when neither the flag nor the variable is given. */
  default?: string
  /** What the help and the README show as the default when it is not a literal value. */
  defaultText?: string
  kind: 'string' | 'int' | 'level' | 'switch'
  /** Bounds of an int setting; without `max`, the largest exact integer. */
  min?: number
  max?: number
  meaning: string
}

/**
 * Bun runs a timer whose delay is past 2^31 - 1 ms after 1 ms instead: a
 * setting that becomes a timer's delay stays within it.
 */
const LONGEST_TIMER_MS = 2 ** 31 - 1
/** The same in seconds. */
const LONGEST_TIMER_S = Math.floor(LONGEST_TIMER_MS / 1000)
/** Seconds the sweep takes off now (about 68 years), which keeps the cutoff a valid date. */
const LONGEST_AGE_S = 2 ** 31 - 1

/** The default a setting shows in the help and the README; undefined when it has none. */
export const shownDefault = (s: Setting): string | undefined => s.default ?? s.defaultText

export const SETTINGS: Setting[] = [
  { key: 'host', flag: '--host', placeholder: 'ADDRESS', env: 'ICEPROD_HOST', default: '127.0.0.1', kind: 'string', meaning: 'address to listen on' },
  { key: 'port', flag: '--port', placeholder: 'PORT', env: 'ICEPROD_PORT', default: '8080', kind: 'int', max: 65535, meaning: 'TCP port to listen on' },
  { key: 'db', flag: '--db', placeholder: 'FILE', env: 'ICEPROD_DB', default: './iceprod-data/iceprod.sqlite', kind: 'string', meaning: 'SQLite database file, created if missing' },
  { key: 'logLevel', flag: '--log-level', placeholder: 'LEVEL', env: 'ICEPROD_LOG_LEVEL', default: 'info', kind: 'level', meaning: 'log level: debug, info (a line per request), warn, error or silent' },
  { key: 'jwtSecret', env: 'ICEPROD_JWT_SECRET', kind: 'string', meaning: 'token signing secret (at least 32 bytes)' },
  { key: 'jwtSecretFile', env: 'ICEPROD_JWT_SECRET_FILE', defaultText: '<db folder>/jwt-secret', kind: 'string', meaning: 'file holding the secret; the default one is generated on first start' },
  { key: 'maxBody', env: 'ICEPROD_MAX_BODY', default: String(16 * 1024 * 1024), kind: 'int', meaning: 'largest accepted request body, in bytes' },
  { key: 'ldapUrl', env: 'ICEPROD_LDAP_URL', kind: 'string', meaning: 'LDAP server for POST /ldap, e.g. ldaps://ldap.example.org' },
  { key: 'ldapBase', env: 'ICEPROD_LDAP_BASE', kind: 'string', meaning: 'base DN that user entries live under, e.g. ou=People,dc=example,dc=org' },
  { key: 'ldapTimeoutMs', env: 'ICEPROD_LDAP_TIMEOUT_MS', default: '5000', kind: 'int', min: 1, max: LONGEST_TIMER_MS, meaning: 'LDAP connect and bind timeout, in milliseconds' },
  { key: 'tokenTtl', env: 'ICEPROD_TOKEN_TTL', default: '31622400', kind: 'int', min: 1, meaning: 'lifetime of login and CLI tokens, in seconds' },
  { key: 'tempTokenTtl', env: 'ICEPROD_TEMP_TOKEN_TTL', default: '86400', kind: 'int', min: 1, meaning: 'longest lifetime of a temp token from /create_token, in seconds' },
  { key: 'clockSkew', env: 'ICEPROD_CLOCK_SKEW', default: '60', kind: 'int', meaning: "seconds a token's exp and nbf may be off, for hosts whose clocks differ" },
  { key: 'lockTimeoutMs', env: 'ICEPROD_LOCK_TIMEOUT_MS', default: String(DEFAULT_LOCK_TIMEOUT_MS), kind: 'int', meaning: "longest a write waits for the database's write lock while another process holds it, in milliseconds; then 503" },
  { key: 'scheduler', env: 'ICEPROD_SCHEDULER', default: 'on', kind: 'switch', meaning: "on: the server queues, hands out, retries and rolls up by itself; off: IceProd's own scheduled tasks drive it" },
  { key: 'bufferJobs', env: 'ICEPROD_BUFFER_JOBS', default: '1000', kind: 'int', min: 1, meaning: 'with the scheduler, most jobs of a dataset processing at once; more are made as jobs finish' },
  { key: 'maxFailures', env: 'ICEPROD_MAX_FAILURES', default: '10', kind: 'int', meaning: "with the scheduler, a reset task whose failures exceed this (or its dataset's max_failures) becomes failed" },
  { key: 'sweepInterval', env: 'ICEPROD_SWEEP_INTERVAL', default: '60', kind: 'int', max: LONGEST_TIMER_S, meaning: 'with the scheduler, seconds between sweeps for lost tasks and silent pilots; 0: none' },
  { key: 'taskGrace', env: 'ICEPROD_TASK_GRACE', default: '900', kind: 'int', max: LONGEST_AGE_S, meaning: 'with the scheduler, seconds a processing task that no pilot lists may go on before the sweep resets it' },
  { key: 'pilotTimeout', env: 'ICEPROD_PILOT_TIMEOUT', default: '0', kind: 'int', max: LONGEST_AGE_S, meaning: 'with the scheduler, seconds after its last_update when the sweep deletes a pilot and resets its tasks; 0: never' },
]

export class ConfigError extends Error {}

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent']

/** An empty value (`ICEPROD_PORT=` in a unit file) counts as unset, so that the default applies. */
const given = (value: string | undefined): string | undefined => (value === '' ? undefined : value)

/** Builds the configuration from parsed flags (by Config key) and the environment. */
export function loadConfig(flags: Partial<Record<keyof Config, string>> = {}, env: Record<string, string | undefined> = process.env): Config {
  const config: Record<string, unknown> = {}
  for (const s of SETTINGS) {
    const flag = given(flags[s.key])
    const raw = flag ?? given(env[s.env]) ?? s.default
    if (raw === undefined) continue
    const name = s.flag && flag !== undefined ? s.flag : s.env
    if (s.kind === 'int') {
      if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`)
      const value = Number(raw)
      if (value < (s.min ?? 0)) throw new ConfigError(`${name} must be at least ${s.min}, got ${raw}`)
      const max = s.max ?? Number.MAX_SAFE_INTEGER
      if (value > max) throw new ConfigError(`${name} must be at most ${max}, got ${raw}`)
      config[s.key] = value
    } else if (s.kind === 'switch') {
      if (raw !== 'on' && raw !== 'off') throw new ConfigError(`${name} must be on or off, got "${raw}"`)
      config[s.key] = raw === 'on'
    } else if (s.kind === 'level') {
      if (!LEVELS.includes(raw)) throw new ConfigError(`${name} must be one of ${LEVELS.join(', ')}, got "${raw}"`)
      config[s.key] = raw
    } else config[s.key] = raw
  }
  return config as unknown as Config
}

export const MIN_SECRET_BYTES = 32

/**
 * The signing secret: ICEPROD_JWT_SECRET, else the secret file, else (with
 * `create`, as the server starts) a random one generated into
 * `<db folder>/jwt-secret` (mode 0600) and reused after.
 */
export function resolveSecret(config: Config, { create = true }: { create?: boolean } = {}): string {
  let secret = config.jwtSecret
  let source = 'ICEPROD_JWT_SECRET'
  if (secret === undefined) {
    const file = config.jwtSecretFile ?? join(dirname(config.db === ':memory:' ? './iceprod-data/x' : config.db), 'jwt-secret')
    source = file
    if (!existsSync(file)) {
      if (config.jwtSecretFile) throw new ConfigError(`secret file ${file} does not exist`)
      if (!create) throw new ConfigError(`no secret file ${file}: is --db right? The server makes it at its first start`)
      createSecretFile(file)
    }
    secret = readFileSync(file, 'utf8').trim()
  }
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new ConfigError(`the JWT secret from ${source} is shorter than ${MIN_SECRET_BYTES} bytes`)
  }
  return secret
}

/** `bytes` random bytes, from the Web Crypto global: node:crypto costs every command a few milliseconds to load. */
const randomBytes = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes)))

/** What linkSync fails with where the filesystem has no hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS', 'EMLINK'])

/**
 * Writes a new secret to `file` unless one is there by now. It is written
 * whole beside it, then linked in place, which fails when `file` exists: of
 * two first starts at once, the second keeps (and reads) the first's secret,
 * never a half-written or replaced one. Where the filesystem has no hard
 * links, `file` is written directly, still only when it does not exist.
 */
function createSecretFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true })
  const secret = randomBytes(48).toString('base64url') + '\n'
  const draft = `${file}.${randomBytes(6).toString('hex')}.new`
  writeFileSync(draft, secret, { mode: 0o600, flag: 'wx' })
  try {
    chmodSync(draft, 0o600)
    linkSync(draft, file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ''
    if (NO_HARD_LINKS.has(code)) writeSecretDirectly(file, secret)
    else if (code !== 'EEXIST') throw error
  } finally {
    rmSync(draft, { force: true })
  }
}

/** Writes `file` only if it does not exist; one that does (another first start's) is kept. */
function writeSecretDirectly(file: string, secret: string): void {
  try {
    writeFileSync(file, secret, { mode: 0o600, flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
}
