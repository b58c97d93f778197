#!/usr/bin/env bun
/**
 * The iceprod-rest program: serve, token, migrate, backup, restore. Flags
 * override ICEPROD_* environment variables; see `iceprod-rest <command> --help`.
 * Every help text is generated from `SETTINGS` and the option tables below,
 * and the README's configuration tables are checked against it.
 * A command loads the code it runs when it runs (the server's for serve, the
 * database's for migrate, backup and restore): help, the version and a bad
 * flag load none of it.
 */
import { parseArgs } from 'node:util'
import { ROLES } from './auth/roles'
import { SETTINGS, loadConfig, resolveSecret, shownDefault, type Config, type Setting } from './config'
import { VERSION } from './version'

const USAGE = `iceprod-rest ${VERSION}: the IceProd REST server

Usage: iceprod-rest <command> [options]

Commands:
  serve      run the server (the default when no command is given)
  token      print a signed token
  migrate    apply pending database migrations and exit
  backup     write a consistent copy of the database, also while the server runs
  restore    replace the database with a backup (the server must be stopped)

Run "iceprod-rest <command> --help" for a command's options.`

/** An option of one command that is not a setting (no environment variable). */
interface CommandOption {
  flag: string
  placeholder: string
  meaning: string
  default?: string
}

/** The token command's own options, for these token types (auth/tokens.ts, loaded by that command). */
const tokenOptions = (types: readonly string[]): CommandOption[] => [
  { flag: '--username', placeholder: 'NAME', meaning: "the token's user (required)" },
  { flag: '--role', placeholder: 'ROLE', meaning: `the token's role, one of ${ROLES.join(', ')} (required)` },
  { flag: '--groups', placeholder: 'LIST', meaning: 'comma-separated group names' },
  { flag: '--type', placeholder: 'TYPE', meaning: `token type: ${types.join(', ')}`, default: 'user' },
  { flag: '--ttl', placeholder: 'SECONDS', meaning: 'lifetime in seconds', default: '$ICEPROD_TOKEN_TTL' },
]

/** One line of help: the option (and its variable), its meaning, its default. */
function helpLine(left: string, meaning: string, shown: string | undefined): string {
  return `  ${left.padEnd(40)} ${meaning}${shown !== undefined ? ` (default ${shown})` : ''}`
}

/** The bounds of an int setting as the help shows them, e.g. ` (1 to 2147483647)`. */
function shownRange(s: Setting): string {
  if (s.min !== undefined && s.max !== undefined) return ` (${s.min} to ${s.max})`
  if (s.min !== undefined) return ` (at least ${s.min})`
  return s.max !== undefined ? ` (at most ${s.max})` : ''
}

function optionsHelp(settingKeys: readonly (keyof Config)[], options: CommandOption[] = []): string {
  const lines = options.map((o) => helpLine(`${o.flag} ${o.placeholder}`, o.meaning, o.default))
  for (const s of SETTINGS) {
    if (!settingKeys.includes(s.key)) continue
    const left = s.flag ? `${s.flag} ${s.placeholder ?? 'VALUE'} / ${s.env}` : s.env
    lines.push(helpLine(left, s.meaning + shownRange(s), shownDefault(s)))
  }
  lines.push(helpLine('--help', 'show this help', undefined))
  return lines.join('\n')
}

const OPTIONS_HEADING = 'Options and environment (a flag overrides its variable; an empty value counts as unset):'

const ALL_SETTINGS = SETTINGS.map((s) => s.key)
const TOKEN_SETTINGS: (keyof Config)[] = ['db', 'jwtSecret', 'jwtSecretFile', 'tokenTtl']
const DB_ONLY: (keyof Config)[] = ['db']

const SERVE_HELP = `Usage: iceprod-rest serve [options]

Runs the server. On the first start of a new database it prints an admin token to stderr.
Log lines (JSON, one per request) go to stderr; GET /metrics serves Prometheus metrics.

${OPTIONS_HEADING}
${optionsHelp(ALL_SETTINGS)}`

const tokenHelp = (options: CommandOption[]) => `Usage: iceprod-rest token --username NAME --role ROLE [options]

Prints a token signed with the server's secret (found the way "serve" finds it;
refused while the database folder holds none: the server makes it at its first start).

${OPTIONS_HEADING}
${optionsHelp(TOKEN_SETTINGS, options)}`

const MIGRATE_HELP = `Usage: iceprod-rest migrate [options]

Applies pending migrations to the database (creating it if missing) and exits.
"serve" does the same at every start.

${OPTIONS_HEADING}
${optionsHelp(DB_ONLY)}`

const BACKUP_HELP = `Usage: iceprod-rest backup <file> [options]

Writes a consistent copy of the database to <file>, which must not exist yet
(mode 0600). Safe while the server runs and writes. The JWT secret file is
not part of the database: back it up once, separately.

${OPTIONS_HEADING}
${optionsHelp(DB_ONLY)}`

const RESTORE_HELP = `Usage: iceprod-rest restore <backup> [options]

Replaces the database with <backup> after checking the backup's integrity.
Refuses while any process (a running server) has the database open: stop the
server, restore, start it again. The replaced database is kept beside it as
<db>.before-restore-<time> (-2, -3... added when that name is taken). A backup with writes in a <backup>-wal beside it
is refused: make it with iceprod-rest backup.

${OPTIONS_HEADING}
${optionsHelp(DB_ONLY)}`

class UsageError extends Error {}

/** parseArgs options for the flags of these settings. */
function settingFlags(keys: readonly (keyof Config)[]): FlagSpec {
  return Object.fromEntries(SETTINGS.filter((s) => s.flag && keys.includes(s.key)).map((s) => [s.flag!.slice(2), { type: 'string' as const }]))
}

function configFrom(values: Record<string, unknown>): Config {
  const flags: Partial<Record<keyof Config, string>> = {}
  for (const s of SETTINGS) {
    const value = s.flag ? values[s.flag.slice(2)] : undefined
    if (typeof value === 'string') flags[s.key] = value
  }
  return loadConfig(flags)
}

async function main(argv: string[]): Promise<number> {
  const command =
    argv[0] === '--version' ? 'version'
    : argv[0] && !argv[0].startsWith('-') ? argv[0]
    : argv.includes('--help') || argv.includes('-h') ? 'help'
    : 'serve'
  const rest = command === argv[0] || argv[0] === '--version' ? argv.slice(1) : argv
  switch (command) {
    case 'help':
      console.log(USAGE)
      return 0
    case 'version':
      console.log(VERSION)
      return 0
    case 'serve': {
      const { values } = parse(rest, settingFlags(ALL_SETTINGS))
      if (values.help) return help(SERVE_HELP)
      const config = configFrom(values)
      const { serve } = await import('./server')
      await serve(config)
      return -1 // keep running
    }
    case 'token': {
      const { TOKEN_TYPES, TokenService } = await import('./auth/tokens')
      const options = tokenOptions(TOKEN_TYPES)
      const ownFlags = Object.fromEntries(options.map((o) => [o.flag.slice(2), { type: 'string' as const }]))
      const { values } = parse(rest, { ...settingFlags(TOKEN_SETTINGS), ...ownFlags })
      if (values.help) return help(tokenHelp(options))
      const config = configFrom(values)
      const username = values.username as string | undefined
      const role = values.role as string | undefined
      const type = (values.type as string | undefined) ?? 'user'
      if (!username) throw new UsageError('token: --username is required')
      if (!role || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`token: --role must be one of ${ROLES.join(', ')}`)
      if (!(TOKEN_TYPES as readonly string[]).includes(type)) throw new UsageError(`token: --type must be one of ${TOKEN_TYPES.join(', ')}`)
      const ttlText = (values.ttl as string | undefined) ?? String(config.tokenTtl)
      if (!/^[1-9]\d*$/.test(ttlText)) throw new UsageError('token: --ttl must be a positive integer')
      const groupList = typeof values.groups === 'string' ? values.groups.split(',').filter(Boolean) : []
      const tokens = new TokenService(resolveSecret(config, { create: false }))
      console.log(await tokens.sign({ username, role, groups: groupList, type: type as 'user', ttl: Number(ttlText) }))
      return 0
    }
    case 'migrate': {
      const { values } = parse(rest, settingFlags(DB_ONLY))
      if (values.help) return help(MIGRATE_HELP)
      const config = configFrom(values)
      const { closeDatabase, openDatabase } = await import('./db')
      const { sqlite } = openDatabase(config.db)
      closeDatabase(sqlite)
      console.log(`iceprod-rest: ${config.db} is up to date`)
      return 0
    }
    case 'backup': {
      const { values, positionals } = parse(rest, settingFlags(DB_ONLY), 1)
      if (values.help) return help(BACKUP_HELP)
      const target = onePositional(positionals, 'backup', '<file>')
      const config = configFrom(values)
      const { backupDatabase } = await import('./ops/backup')
      const { bytes } = backupDatabase(config.db, target)
      console.log(`iceprod-rest: backed up ${config.db} to ${target} (${bytes} bytes)`)
      return 0
    }
    case 'restore': {
      const { values, positionals } = parse(rest, settingFlags(DB_ONLY), 1)
      if (values.help) return help(RESTORE_HELP)
      const source = onePositional(positionals, 'restore', '<backup>')
      const config = configFrom(values)
      const { restoreDatabase } = await import('./ops/backup')
      const { previous } = restoreDatabase(source, config.db)
      console.log(`iceprod-rest: restored ${config.db} from ${source}${previous ? `; the database it replaced is kept as ${previous}` : ''}`)
      return 0
    }
    default:
      throw new UsageError(`unknown command "${command}" (try --help)`)
  }
}

type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>

interface Parsed {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

/** Parses flags strictly; `positionals` is how many plain arguments the command takes. */
function parse(args: string[], options: FlagSpec, positionals = 0): Parsed {
  try {
    const parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: positionals > 0 })
    return { values: parsed.values as Parsed['values'], positionals: parsed.positionals }
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments')
  }
}

function onePositional(positionals: string[], command: string, name: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError(`${command}: expected exactly one ${name} (try --help)`)
  return positionals[0]
}

function help(text: string): number {
  console.log(text)
  return 0
}

main(Bun.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (error) => {
    const message = (error as Error)?.message ?? String(error)
    // One line, whatever the message holds.
    process.stderr.write(`iceprod-rest: ${message.replace(/\s*\n\s*/g, ' ')}\n`)
    process.exit(2)
  },
)
