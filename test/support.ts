/**
 * Test harness: a real app on a real SQLite file in a fresh temp folder,
 * called in-process through app.handle (the same code path Bun.serve uses).
 */
import { expect } from 'bun:test'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp, type AppOptions } from '../src/app'
import { loadConfig, type Config } from '../src/config'
import { closeDatabase, openDatabase } from '../src/db'
import { embeddedMigrations } from '../src/db/migrator'

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789'

export interface CallOptions {
  /** Bearer token; null for none. Defaults to the harness's admin token. */
  token?: string | null
  /** A value sent as JSON, or a string sent as is. */
  body?: unknown
  headers?: Record<string, string>
}

export interface Reply<T = any> {
  status: number
  body: T
  text: string
  headers: Headers
}

export interface TokenOptions {
  username?: string
  groups?: string[]
  type?: 'temp' | 'user' | 'system'
  ttl?: number
}

/**
 * A file kept in the temp folder for later runs under `name`, which says what
 * it was made from (`bun test` runs no exit handler that could remove it).
 * At the first call `make` writes it beside its place; it is then renamed
 * into place, so that a process running at the same time never copies a
 * half-made file, and the files whose names start with `replacing` (the same
 * thing made from something else) are removed. A `make` that throws keeps nothing.
 */
export function keptFile(name: string, make: (path: string) => void, replacing?: string): string {
  const path = join(tmpdir(), name)
  if (!existsSync(path)) {
    const making = mkdtempSync(join(tmpdir(), 'iceprod-making-'))
    try {
      make(join(making, name))
      putInPlace(making, name, replacing)
    } finally {
      rmSync(making, { recursive: true, force: true })
    }
  }
  return path
}

/** keptFile for a `make` that has to wait. */
export async function keptFileMadeAsync(name: string, make: (path: string) => Promise<void>, replacing?: string): Promise<string> {
  const path = join(tmpdir(), name)
  if (!existsSync(path)) {
    const making = mkdtempSync(join(tmpdir(), 'iceprod-making-'))
    try {
      await make(join(making, name))
      putInPlace(making, name, replacing)
    } finally {
      rmSync(making, { recursive: true, force: true })
    }
  }
  return path
}

function putInPlace(making: string, name: string, replacing: string | undefined): void {
  renameSync(join(making, name), join(tmpdir(), name))
  if (replacing === undefined) return
  for (const stale of readdirSync(tmpdir())) if (stale.startsWith(replacing) && stale !== name) rmSync(join(tmpdir(), stale), { force: true })
}

let template: string | undefined

/**
 * A new database with every migration applied, made once per set of
 * migrations (a keptFile): migrating a new file is most of an app's start,
 * and each test app starts on a copy (its migrator then finds nothing left
 * to apply).
 */
function migratedDatabase(): string {
  const migrations = createHash('sha256').update(embeddedMigrations().map((m) => m.hash).join()).digest('hex').slice(0, 16)
  return (template ??= keptFile(`iceprod-migrated-${migrations}.sqlite`, (made) => closeDatabase(openDatabase(made).sqlite)))
}

/** Puts a migrated database at `path`, a copy of the one made for these migrations. */
export function copyMigratedDatabase(path: string): void {
  copyFileSync(migratedDatabase(), path)
}

export async function startTestApp(overrides: Partial<Config> = {}, env: Record<string, string> = {}, options: AppOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-test-'))
  const db = join(dir, 'iceprod.sqlite')
  const config = { ...loadConfig({ db }, { ICEPROD_JWT_SECRET: TEST_SECRET, ICEPROD_LOG_LEVEL: 'warn', ...env }), ...overrides }
  if (config.db === db) copyMigratedDatabase(db)
  const built = createApp(config, options)
  const token = (role: string, options: TokenOptions = {}) =>
    built.ctx.tokens.sign({ username: options.username ?? role, role, groups: options.groups ?? [], type: options.type ?? 'user', ttl: options.ttl ?? 3600 })
  // Valid for days, so that tests that move the app's clock by hours keep calling.
  const adminToken = await token('admin', { ttl: 30 * 86_400 })

  async function call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers }
    const bearer = options.token === undefined ? adminToken : options.token
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`
    let body: string | undefined
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
      headers['content-type'] ??= 'application/json'
    }
    const response = await built.app.handle(new Request(`http://localhost${path}`, { method, headers, body }))
    // An event stream has no end: it is not read (the events tests read it).
    const streams = response.headers.get('content-type')?.startsWith('text/event-stream') === true
    if (streams) await response.body?.cancel()
    const text = streams ? '' : await response.text()
    let parsed: unknown = undefined
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      parsed = undefined
    }
    return { status: response.status, body: parsed as T, text, headers: response.headers }
  }

  /** Row count of a table, to prove a rejected request wrote nothing. */
  const count = (table: string) => (built.ctx.sqlite.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n

  return {
    ...built,
    dir,
    config,
    adminToken,
    token,
    call,
    count,
    close() {
      built.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export type TestApp = Awaited<ReturnType<typeof startTestApp>>

/** Time that moves only when told to (an app's `clock`): milliseconds since the epoch. */
export class FakeClock {
  constructor(private ms = Date.UTC(2024, 0, 15, 12)) {}
  now = () => this.ms
  seconds = () => this.ms / 1000
  advance(ms: number) {
    this.ms += ms
  }
}

/** IceProd's timestamp form and the server's ids. */
export const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/
export const ID = /^[0-9a-f]{32}$/

/** A 201 answering `{result: id}` with a new id and the Location `${at}/${id}`; the id. */
export function expectCreated(r: Reply, at: string): string {
  expect(r.status).toBe(201)
  const id = r.body.result
  expect(id).toMatch(ID)
  expect(r.body).toEqual({ result: id })
  expect(r.headers.get('location')).toBe(`${at}/${id}`)
  return id
}

/**
 * The dataset fixture shared by the route tests: groups /simprod,
 * /simprod/filtering, /reader and /other; a dataset of /simprod/filtering that
 * /reader may also read, and another of /other; `tokens` filled with one token
 * per role plus `writer` (/simprod/filtering), `parent` (/simprod, anonymous),
 * `reader` (/reader) and `other` (/other).
 */
export async function datasetFixture(t: TestApp, tokens: Record<string, string>) {
  for (const name of ['/simprod', '/simprod/filtering', '/reader', '/other']) await t.call('POST', '/groups', { body: { name } })
  const createDataset = async (group: string): Promise<string> => {
    const r = await t.call('POST', '/datasets', { body: { description: 'd', jobs_submitted: 10, tasks_submitted: 10, group } })
    return r.body.result.split('/')[2]
  }
  const datasetId = await createDataset('/simprod/filtering')
  const otherDatasetId = await createDataset('/other')
  await t.call('PUT', `/auths/${datasetId}`, { body: { read_groups: ['/simprod/filtering', '/reader'], write_groups: ['/simprod/filtering'] } })
  for (const role of ['admin', 'system', 'client', 'pilot', 'user', 'anonymous']) tokens[role] = await t.token(role)
  tokens.writer = await t.token('user', { groups: ['/simprod/filtering'] })
  tokens.parent = await t.token('anonymous', { groups: ['/simprod'] })
  tokens.reader = await t.token('user', { groups: ['/reader'] })
  tokens.other = await t.token('user', { groups: ['/other'] })
  return { datasetId, otherDatasetId, createDataset }
}
