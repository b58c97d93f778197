/**
 * The program as a user runs it (the compiled binary, in a subprocess; run
 * from the sources it answers the same): each command's help agrees with the
 * README's configuration tables, bad flags end with one line, `token` prints
 * a token the server accepts, `migrate` creates.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TokenService } from '../src/auth/tokens'
import { SETTINGS, loadConfig, resolveSecret, shownDefault } from '../src/config'
import { embeddedMigrations } from '../src/db/migrator'
import { VERSION } from '../src/version'
import { inParallel, runCli, runSourceCli } from './server-process'
import { TEST_SECRET, startTestApp } from './support'

/** Tests here start real processes: allow for a slow, busy machine whatever the default timeout. */
const PROCESS_TIMEOUT_MS = 60_000

const dir = mkdtempSync(join(tmpdir(), 'iceprod-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The environment without any ICEPROD_* variable of the machine running the tests. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ICEPROD_'))) as Record<string, string>

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { ...cleanEnv, ...env })
const answers = new Map<string, ReturnType<typeof cli>>()
/** The binary's answer to `args` in the clean environment, run once for the tests that read the same answer (help, version). */
const answerOf = (args: string[]) => answers.get(args.join(' ')) ?? answers.set(args.join(' '), cli(args)).get(args.join(' '))!
/** Commands that do not depend on each other run this many at a time. */
const AT_ONCE = 4

const COMMANDS = ['serve', 'token', 'migrate', 'backup', 'restore'] as const
const NONE = '—'

interface HelpOption {
  flag: string
  placeholder: string
  env: string
  default: string
}

/** The option lines of a command's help. */
function helpOptions(text: string): HelpOption[] {
  const options: HelpOption[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('  -') && !line.startsWith('  ICEPROD_')) continue
    const match = /^  (?:(--[a-z-]+)(?: (\S+))?(?: \/ (ICEPROD_\w+))?|(ICEPROD_\w+)) {2,}(.*?)(?: \(default (.+)\))?$/.exec(line)
    if (!match) throw new Error(`help line not understood: ${line}`)
    options.push({ flag: match[1] ?? '', placeholder: match[2] ?? '', env: match[3] ?? match[4] ?? '', default: match[6] ?? NONE })
  }
  return options
}

/** The rows of the markdown table whose header line is `header`, cells without backticks. */
function readmeTable(header: string): string[][] {
  const lines = readFileSync('README.md', 'utf8').split('\n')
  const start = lines.indexOf(header)
  if (start < 0) throw new Error(`README has no table headed ${header}`)
  const rows: string[][] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim().replaceAll('`', '')))
  }
  return rows
}

const settingsTable = () =>
  readmeTable('| Flag | Variable | Default | Meaning |').map(([flag, env, shown]) => ({ flag: flag!, env: env!, default: shown! }))
const commandTable = () =>
  readmeTable('| Command | Option | Default | Meaning |').map(([command, option, shown]) => ({ command: command!, option: option!, default: shown! }))

describe('help and README agree', () => {
  let helps: Record<string, Awaited<ReturnType<typeof cli>>> = {}
  beforeAll(async () => {
    helps = Object.fromEntries(await inParallel(COMMANDS, AT_ONCE, async (command) => [command, await answerOf([command, '--help'])]))
  }, PROCESS_TIMEOUT_MS)

  test('every command has help, exit status 0', () => {
    for (const command of COMMANDS) {
      expect({ command, code: helps[command]!.code }).toEqual({ command, code: 0 })
      expect(helps[command]!.stdout).toStartWith(`Usage: iceprod-rest ${command}`)
      expect(helps[command]!.stdout).toContain('--help')
    }
  })

  test('every setting a help lists is in the README table with the same flag and default', () => {
    const table = settingsTable()
    for (const command of COMMANDS) {
      for (const option of helpOptions(helps[command]!.stdout).filter((o) => o.env)) {
        const row = table.find((r) => r.env === option.env)
        expect({ command, env: option.env, row }).toEqual({ command, env: option.env, row: { env: option.env, flag: option.flag, default: option.default } })
      }
    }
  })

  test('every option of a single command is in the README table with the same default', () => {
    const table = commandTable()
    for (const command of COMMANDS) {
      for (const option of helpOptions(helps[command]!.stdout).filter((o) => !o.env && o.flag !== '--help')) {
        const name = `${option.flag} ${option.placeholder}`
        const row = table.find((r) => r.command === command && r.option === name)
        expect({ command, name, row }).toEqual({ command, name, row: { command, option: name, default: option.default } })
      }
    }
  })

  test('the README lists no setting or option that the program does not have', () => {
    const known = SETTINGS.map((s) => ({ env: s.env, flag: s.flag ?? '', default: shownDefault(s) ?? NONE }))
    expect(settingsTable()).toEqual(known)
    for (const row of commandTable()) {
      const listed = helpOptions(helps[row.command]?.stdout ?? '').map((o) => `${o.flag} ${o.placeholder}`)
      expect({ row, listed: listed.includes(row.option) }).toEqual({ row, listed: true })
    }
  })

  test('serve --help lists every setting', () => {
    const listed = helpOptions(helps.serve!.stdout).map((o) => o.env)
    expect(listed.filter(Boolean)).toEqual(SETTINGS.map((s) => s.env))
  })

  test('the program help names every command; --version prints the version', async () => {
    const [usage, version] = await Promise.all([answerOf(['--help']), answerOf(['--version'])])
    expect(usage.code).toBe(0)
    for (const command of COMMANDS) expect(usage.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    expect(version.stdout.trim()).toBe(VERSION)
  }, PROCESS_TIMEOUT_MS)
})

test('run from the sources (bun src/cli.ts), the program answers as the binary does', async () => {
  const cases = [['--version'], ['serve', '--help'], ['token', '--role', 'king', '--username', 'a']]
  // The binary's answers to help and version are the ones the tests above read.
  const runs = await Promise.all(cases.flatMap((args) => [runSourceCli(args, cleanEnv), answerOf(args)]))
  for (const [index, args] of cases.entries()) expect({ args, source: runs[2 * index] }).toEqual({ args, source: runs[2 * index + 1]! })
}, PROCESS_TIMEOUT_MS)

describe('bad flags and values', () => {
  const db = join(dir, 'never-created', 'iceprod.sqlite')
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['serve', '--frobnicate'], {}, /frobnicate/],
    [['serve', '--port', 'abc', '--db', db], {}, /--port must be a non-negative integer/],
    [['serve', '--port', '70000', '--db', db], {}, /port must be at most 65535/],
    [['serve', '--log-level', 'loud', '--db', db], {}, /--log-level must be one of/],
    [['serve', '--db', db], { ICEPROD_PORT: 'eighty' }, /ICEPROD_PORT must be a non-negative integer/],
    [['serve', '--db', db], { ICEPROD_MAX_BODY: '-1' }, /ICEPROD_MAX_BODY/],
    // Past Bun's longest timer (2^31 - 1 ms) a delay would run after 1 ms.
    [['serve', '--db', db], { ICEPROD_SWEEP_INTERVAL: '3000000' }, /ICEPROD_SWEEP_INTERVAL must be at most 2147483, got 3000000/],
    [['serve', '--db', db], { ICEPROD_LDAP_TIMEOUT_MS: '2147483648' }, /ICEPROD_LDAP_TIMEOUT_MS must be at most 2147483647/],
    [['serve', '--db', db], { ICEPROD_LDAP_TIMEOUT_MS: '0' }, /ICEPROD_LDAP_TIMEOUT_MS must be at least 1/],
    [['serve', '--db', db], { ICEPROD_BUFFER_JOBS: '0' }, /ICEPROD_BUFFER_JOBS must be at least 1, got 0/],
    [['serve', '--db', db], { ICEPROD_TOKEN_TTL: '0' }, /ICEPROD_TOKEN_TTL must be at least 1/],
    [['serve', '--db', db], { ICEPROD_TEMP_TOKEN_TTL: '0' }, /ICEPROD_TEMP_TOKEN_TTL must be at least 1/],
    [['serve', '--db', db], { ICEPROD_TASK_GRACE: '99999999999999' }, /ICEPROD_TASK_GRACE must be at most/],
    [['serve', '--db', db], { ICEPROD_PILOT_TIMEOUT: '99999999999999' }, /ICEPROD_PILOT_TIMEOUT must be at most/],
    [['serve', '--db', db], { ICEPROD_CLOCK_SKEW: '99999999999999999999' }, /ICEPROD_CLOCK_SKEW must be at most 9007199254740991/],
    [['serve', '--db', db, 'extra'], {}, /extra/],
    [['serve', '--port'], {}, /port/],
    [['token', '--role', 'admin'], { ICEPROD_JWT_SECRET: TEST_SECRET }, /--username is required/],
    [['token', '--username', 'a', '--role', 'king'], { ICEPROD_JWT_SECRET: TEST_SECRET }, /--role must be one of/],
    [['token', '--username', 'a', '--role', 'user', '--type', 'forever'], { ICEPROD_JWT_SECRET: TEST_SECRET }, /--type must be one of/],
    [['token', '--username', 'a', '--role', 'user', '--ttl', '0'], { ICEPROD_JWT_SECRET: TEST_SECRET }, /--ttl must be a positive integer/],
    [['token', '--username', 'a', '--role', 'user'], { ICEPROD_JWT_SECRET: TEST_SECRET, ICEPROD_TOKEN_TTL: '0' }, /ICEPROD_TOKEN_TTL must be at least 1/],
    [['token', '--username', 'a', '--role', 'user'], { ICEPROD_JWT_SECRET: 'short' }, /shorter than 32 bytes/],
    [['token', '--username', 'a', '--role', 'user', '--port', '1'], { ICEPROD_JWT_SECRET: TEST_SECRET }, /port/],
    [['migrate', '--host', 'x'], {}, /host/],
    [['backup'], {}, /expected exactly one <file>/],
    [['backup', 'a.sqlite', 'b.sqlite'], {}, /expected exactly one <file>/],
    [['restore'], {}, /expected exactly one <backup>/],
    [['frobnicate'], {}, /unknown command "frobnicate"/],
  ]

  test('end with a non-zero status and one line saying why, writing nothing', async () => {
    const results = await inParallel(cases, AT_ONCE, ([args, env]) => cli(args, env))
    for (const [index, [args, , reason]] of cases.entries()) {
      const r = results[index]!
      const lines = r.stderr.trimEnd().split('\n')
      expect({ args, code: r.code, signal: r.signal, stdout: r.stdout, lines: lines.length }).toEqual({ args, code: 2, signal: null, stdout: '', lines: 1 })
      expect({ args, line: lines[0] }).toEqual({ args, line: expect.stringMatching(reason) })
      expect(lines[0]).toStartWith('iceprod-rest: ')
    }
    expect(() => statSync(db)).toThrow()
  }, PROCESS_TIMEOUT_MS)
})

describe('empty values', () => {
  test('an empty variable or flag counts as unset: the default applies', () => {
    const defaults = loadConfig({}, {})
    const emptyVariables = Object.fromEntries(SETTINGS.map((s) => [s.env, '']))
    expect(loadConfig({}, emptyVariables)).toEqual(defaults)
    const emptyFlags = Object.fromEntries(SETTINGS.filter((s) => s.flag).map((s) => [s.key, '']))
    expect(loadConfig(emptyFlags, {})).toEqual(defaults)
    // An empty flag leaves its variable in force.
    expect(loadConfig({ port: '' }, { ICEPROD_PORT: '9090' }).port).toBe(9090)
  })

  test('token with ICEPROD_TOKEN_TTL= signs for the default lifetime', async () => {
    const r = await cli(['token', '--username', 'a', '--role', 'user'], { ICEPROD_JWT_SECRET: TEST_SECRET, ICEPROD_TOKEN_TTL: '' })
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    const auth = await new TokenService(TEST_SECRET).verify(r.stdout.trim())
    const defaultTtl = loadConfig({}, {}).tokenTtl
    expect(auth!.exp - Date.now() / 1000).toBeWithin(defaultTtl - 10, defaultTtl + 1)
  }, PROCESS_TIMEOUT_MS)
})

describe('token', () => {
  test('prints a token signed with ICEPROD_JWT_SECRET that verifies with the given claims', async () => {
    const r = await cli(['token', '--username', 'site-a', '--role', 'client', '--groups', '/a,/b/c', '--type', 'system', '--ttl', '600'], { ICEPROD_JWT_SECRET: TEST_SECRET })
    expect(r.code).toBe(0)
    const token = r.stdout.trim()
    const auth = await new TokenService(TEST_SECRET).verify(token)
    expect(auth).toMatchObject({ username: 'site-a', role: 'client', groups: ['/a', '/b/c'], type: 'system' })
    expect(auth!.exp - Date.now() / 1000).toBeWithin(590, 601)
    expect(await new TokenService('another-secret-another-secret-0123456789').verify(token)).toBeUndefined()
  }, PROCESS_TIMEOUT_MS)

  test('without a secret in the environment, uses the one the server made beside the database, which the server accepts', async () => {
    const db = join(dir, 'token-db', 'iceprod.sqlite')
    // The server's first start makes the secret.
    const app = await startTestApp({ db, jwtSecret: undefined, logLevel: 'silent' })
    try {
      const r = await cli(['token', '--username', 'admin', '--role', 'admin', '--db', db])
      expect(r.code).toBe(0)
      const secretFile = join(dir, 'token-db', 'jwt-secret')
      expect(statSync(secretFile).mode & 0o777).toBe(0o600)
      // The secret was written beside it first: nothing of that is left.
      expect(readdirSync(join(dir, 'token-db')).filter((name) => name.startsWith('jwt-secret'))).toEqual(['jwt-secret'])
      const secret = resolveSecret(loadConfig({ db }, {}))
      expect(await new TokenService(secret).verify(r.stdout.trim())).toMatchObject({ username: 'admin', role: 'admin', type: 'user' })
      const roles = await app.call('GET', '/roles', { token: r.stdout.trim() })
      expect(roles.status).toBe(200)
    } finally {
      app.close()
    }
  }, PROCESS_TIMEOUT_MS)

  test('refuses when the database folder holds no secret (a mistyped --db), creating nothing', async () => {
    const db = join(dir, 'mistyped', 'iceprod.sqlite')
    const r = await cli(['token', '--username', 'admin', '--role', 'admin', '--db', db])
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' })
    expect(r.stderr).toBe(`iceprod-rest: no secret file ${join(dir, 'mistyped', 'jwt-secret')}: is --db right? The server makes it at its first start\n`)
    expect(() => statSync(join(dir, 'mistyped'))).toThrow()
  }, PROCESS_TIMEOUT_MS)
})

describe('migrate', () => {
  test('creates and migrates a database on a fresh path, and is a no-op the second time', async () => {
    const db = join(dir, 'fresh', 'nested', 'iceprod.sqlite')
    const first = await cli(['migrate', '--db', db])
    expect(first).toEqual({ code: 0, signal: null, stdout: `iceprod-rest: ${db} is up to date\n`, stderr: '' })
    const check = () => {
      const sqlite = new Database(db, { readonly: true })
      try {
        const applied = (sqlite.query('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n
        const tables = (sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name)
        return { applied, tables }
      } finally {
        sqlite.close()
      }
    }
    const after = check()
    expect(after.applied).toBe(embeddedMigrations().length)
    expect(after.tables).toEqual(expect.arrayContaining(['datasets', 'jobs', 'tasks', 'task_counts', 'logs', 'grids', 'pilots']))
    expect((await cli(['migrate'], { ICEPROD_DB: db })).code).toBe(0)
    expect(check()).toEqual(after)
  }, PROCESS_TIMEOUT_MS)
})
