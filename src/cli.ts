#!/usr/bin/env bun
/**
 * The iceprod-rest program: serve, token, migrate. Flags override ICEPROD_*
 * environment variables; see `iceprod-rest <command> --help`.
 */
import { parseArgs } from 'node:util'
import { ROLES, TOKEN_TYPES, TokenService } from './auth/tokens'
import { ConfigError, SETTINGS, loadConfig, resolveSecret, type Config } from './config'
import { closeDatabase, openDatabase } from './db'
import { serve } from './server'
import { VERSION } from './modules/system'

const USAGE = `iceprod-rest ${VERSION}: the IceProd REST server

Usage: iceprod-rest <command> [options]

Commands:
  serve      run the server (the default when no command is given)
  token      print a signed token
  migrate    apply pending database migrations and exit

Run "iceprod-rest <command> --help" for a command's options.`

function settingsHelp(keys: (keyof Config)[]): string {
  return SETTINGS.filter((s) => keys.includes(s.key))
    .map((s) => {
      const name = s.flag ? `${s.flag} / ${s.env}` : s.env
      return `  ${name.padEnd(38)} ${s.meaning}${s.default !== undefined ? ` (default ${s.default})` : ''}`
    })
    .join('\n')
}

const SERVE_HELP = `Usage: iceprod-rest serve [options]

Runs the server. On the first start of a new database it prints an admin token to stderr.

Options and environment (a flag overrides its variable):
${settingsHelp(SETTINGS.map((s) => s.key))}
  --help                                 show this help`

const TOKEN_HELP = `Usage: iceprod-rest token --username NAME --role ROLE [options]

Prints a token signed with the server's secret (found like "serve" does).

Options:
  --username NAME                        the token's user (required)
  --role ROLE                            one of ${ROLES.join(', ')} (required)
  --groups a,b                           comma-separated group names
  --type TYPE                            ${TOKEN_TYPES.join(', ')} (default user)
  --ttl SECONDS                          lifetime (default ICEPROD_TOKEN_TTL)
${settingsHelp(['db', 'jwtSecret', 'jwtSecretFile', 'tokenTtl'])}
  --help                                 show this help`

const MIGRATE_HELP = `Usage: iceprod-rest migrate [--db FILE]

Applies pending migrations to the database and exits.

${settingsHelp(['db'])}
  --help                                 show this help`

class UsageError extends Error {}

/** Flags of `SETTINGS` as parseArgs options, keyed by flag name. */
const settingFlags = Object.fromEntries(
  SETTINGS.filter((s) => s.flag).map((s) => [s.flag!.slice(2), { type: 'string' as const }]),
)

function configFrom(values: Record<string, unknown>): Config {
  const flags: Partial<Record<keyof Config, string>> = {}
  for (const s of SETTINGS) {
    const value = s.flag ? values[s.flag.slice(2)] : undefined
    if (typeof value === 'string') flags[s.key] = value
  }
  return loadConfig(flags)
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : argv.includes('--help') || argv.includes('-h') ? 'help' : 'serve'
  const rest = command === argv[0] ? argv.slice(1) : argv
  switch (command) {
    case 'help':
      console.log(USAGE)
      return 0
    case '--version':
    case 'version':
      console.log(VERSION)
      return 0
    case 'serve': {
      const { values } = parse(rest, settingFlags)
      if (values.help) return help(SERVE_HELP)
      await serve(configFrom(values))
      return -1 // keep running
    }
    case 'token': {
      const { values } = parse(rest, {
        db: { type: 'string' },
        username: { type: 'string' },
        role: { type: 'string' },
        groups: { type: 'string' },
        type: { type: 'string' },
        ttl: { type: 'string' },
      })
      if (values.help) return help(TOKEN_HELP)
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
      const tokens = new TokenService(resolveSecret(config))
      console.log(await tokens.sign({ username, role, groups: groupList, type: type as 'user', ttl: Number(ttlText) }))
      return 0
    }
    case 'migrate': {
      const { values } = parse(rest, { db: { type: 'string' } })
      if (values.help) return help(MIGRATE_HELP)
      const config = configFrom(values)
      const { sqlite } = openDatabase(config.db)
      closeDatabase(sqlite)
      console.log(`iceprod-rest: ${config.db} is up to date`)
      return 0
    }
    default:
      throw new UsageError(`unknown command "${command}" (try --help)`)
  }
}

type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>

function parse(args: string[], options: FlagSpec): { values: Record<string, string | boolean | undefined> } {
  try {
    const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false })
    return { values: values as Record<string, string | boolean | undefined> }
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments')
  }
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
    const known = error instanceof UsageError || error instanceof ConfigError
    process.stderr.write(`iceprod-rest: ${known ? error.message : (error as Error)?.message ?? String(error)}\n`)
    process.exit(2)
  },
)
