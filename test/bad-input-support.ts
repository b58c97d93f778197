/**
 * Shared by the bad-input tests: a test app with a small body limit and one
 * of every resource, every route of the app with the keys its body must and
 * may hold and the kinds of values they take (read from the route's schema,
 * see routes.ts), arbitraries of wrong values, and the check every refused
 * request must pass: a 4xx whose body is exactly {code, error}, and a
 * database left exactly as it was.
 */
import { afterAll, beforeAll, expect } from 'bun:test'
import fc from 'fast-check'
import { DATASET_STATUSES, JOB_STATUSES, TASK_STATUSES } from '../src/status'
import type { TestApp } from './support'
import { appRoutes, MEMBERS, paramNames as namesIn, queryKinds, ROLES, startRouteFixture, statusResourceOf, type AppRoute, type Ids, type JsonSchema, type QueryKind } from './routes'

export { DATASET_GROUP, type Ids, type QueryKind } from './routes'

/** The body limit of the test app: small, so that oversize bodies are cheap to send. */
export const MAX_BODY = 64 * 1024

// ---- kinds of keys and their wrong values ----

/** Odd pieces of text: lone surrogates, NUL, direction marks, zero-width and combining characters, emoji, escapes. */
export const ODD_PIECES = ['\ud800', '\udfff', '\ud83d', '\u0000', '\u0007', '\u202e', '\u200f', '\u200b', '\ufeff', '😀', '👩‍👩‍👧', 'e\u0301', '\uffff', '\\', '"', '\n', '\u2028', '%', '/', '?', '#']

export function oddText(): fc.Arbitrary<string> {
  return fc.array(fc.oneof(fc.constantFrom(...ODD_PIECES), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 8 }).map((parts) => parts.join(''))
}

export interface Kind {
  name: string
  /** Values of the wrong JSON type, or out of range, for a key of this kind. */
  wrong: fc.Arbitrary<unknown>
  /** Refused values that are strings: their message is the route's own (e.g. `bad status: x`). */
  badStrings?: fc.Arbitrary<string>
  /** Whether the key takes strings (so a number, not a string, is its wrong value). */
  takesStrings: boolean
}

type JsonType = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object'

const small = { maxDepth: 2 } as const
const json = fc.jsonValue(small)
const notA = (...types: JsonType[]) => json.filter((value) => !types.includes(jsonType(value)))

export function jsonType(value: unknown): JsonType {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value as 'string' | 'number' | 'boolean' | 'object'
}

/** Finite doubles that are not integers (JSON cannot carry NaN or Infinity). */
const fraction = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((v) => !Number.isInteger(v))
const finite = { noNaN: true, noDefaultInfinity: true } as const

/** Strings that are no status of the list: empty, near misses, odd unicode, long. */
const notStatus = (list: readonly string[]) =>
  fc
    .oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom(...list).map((s) => s.toUpperCase()),
      fc.constantFrom(...list).map((s) => ` ${s}`),
      fc.constantFrom(...list).map((s) => `${s}|${s}`),
      oddText(),
      fc.constant('x'.repeat(10_000)),
    )
    .filter((s) => !list.includes(s))

const STATUS_LISTS = { dataset: DATASET_STATUSES, job: JOB_STATUSES, task: TASK_STATUSES }

/** The values outside a numeric schema's minimum and maximum (never -0 below 0: JSON writes it as 0). */
function outOfRange(schema: JsonSchema, integers: boolean): fc.Arbitrary<unknown>[] {
  const { minimum: min, maximum: max } = schema
  const out: fc.Arbitrary<unknown>[] = []
  if (min !== undefined) out.push(integers ? fc.integer({ max: min - 1 }) : fc.double({ ...finite, max: min }).filter((v) => v < min))
  // fc.integer's own bounds are 32-bit: a maximum past them needs the upper end named.
  if (max !== undefined) out.push(integers ? fc.integer({ min: max + 1, max: Math.max(max + 1, Number.MAX_SAFE_INTEGER) }) : fc.double({ ...finite, min: max }).filter((v) => v > max))
  return out
}

/**
 * The kind of a body key, from its schema: values of every other JSON type,
 * and those of its own type that the schema refuses. A `status` key takes
 * the statuses of the resource the route's path names.
 */
export function kindOf(schema: JsonSchema, where: string, statusOf?: 'dataset' | 'job' | 'task'): Kind {
  switch (schema.type) {
    case 'string': {
      const tooShort = schema.minLength ? [fc.string({ maxLength: schema.minLength - 1 })] : []
      const name = schema.minLength ? `string of ${schema.minLength}+ characters` : 'string'
      if (statusOf) return { name: `${statusOf} status`, wrong: notA('string'), badStrings: notStatus(STATUS_LISTS[statusOf]), takesStrings: true }
      return { name, wrong: fc.oneof(notA('string'), ...tooShort), takesStrings: true }
    }
    case 'integer': {
      // A numeric string is no JSON integer, even one in range.
      const inRange = fc.integer({ min: schema.minimum, max: schema.maximum }).map(String)
      return { name: 'integer', wrong: fc.oneof(notA('number'), fraction, inRange, ...outOfRange(schema, true)), takesStrings: false }
    }
    case 'number':
      return { name: 'number', wrong: fc.oneof(notA('number'), ...outOfRange(schema, false)), takesStrings: false }
    case 'boolean':
      return { name: 'boolean', wrong: fc.oneof(notA('boolean'), fc.constantFrom('true', 'false', 0, 1)), takesStrings: false }
    case 'array': {
      const itemType = schema.items?.type
      if (itemType !== 'string' && itemType !== 'number' && itemType !== 'boolean' && itemType !== 'object') throw new Error(`${where}: no wrong values known for arrays of ${JSON.stringify(schema.items)}`)
      const wrongItem = (item: unknown) => jsonType(item) !== itemType
      return { name: `array of ${itemType}s`, wrong: fc.oneof(notA('array'), fc.array(json, { minLength: 1, maxLength: 4 }).filter((items) => items.some(wrongItem))), takesStrings: false }
    }
    case 'object': {
      const values = schema.additionalProperties
      if (typeof values !== 'object') return { name: 'object', wrong: notA('object'), takesStrings: false }
      const value = kindOf(values, `${where} (values)`)
      return { name: `object of ${value.name}s`, wrong: fc.oneof(notA('object'), fc.dictionary(fc.string({ maxLength: 8 }), value.wrong, { minKeys: 1, maxKeys: 3 })), takesStrings: false }
    }
    default:
      throw new Error(`${where}: no wrong values known for the schema ${JSON.stringify(schema)}`)
  }
}

/** Whether a key of this kind takes strings (so a number, not a string, is its wrong value). */
export function acceptsStrings(kind: Kind): boolean {
  return kind.takesStrings
}

// ---- the app and its fixtures ----

export interface Fixture {
  t: TestApp
  ids: Ids
  /** Tokens by role (see routes.ts); `member` is an anonymous token whose groups give read and write on the fixture dataset. */
  tokens: Record<string, string | null>
  tables: string[]
  /** The last snapshot, and the count of rows written when it was taken. */
  snapshotAt?: { changes: number; tables: Record<string, string> }
}

export async function startFixture(): Promise<Fixture> {
  const { t, ids, tokens } = await startRouteFixture({ logLevel: 'silent', maxBody: MAX_BODY })
  const tables = (t.ctx.sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((row) => row.name)
  return { t, ids, tokens, tables }
}

/**
 * Every table's row count and a hash of its whole content: any write changes
 * it. The tables are read again only after rows were written: total_changes()
 * counts every row the app's connection (its only one) has inserted, updated
 * or deleted, triggers included.
 */
export function snapshot(f: Fixture): Record<string, string> {
  const { changes } = f.t.ctx.sqlite.query('SELECT total_changes() AS changes').get() as { changes: number }
  if (f.snapshotAt?.changes === changes) return f.snapshotAt.tables
  const out: Record<string, string> = {}
  for (const table of f.tables) {
    const rows = f.t.ctx.sqlite.query(`SELECT * FROM "${table}"`).values()
    out[table] = `${rows.length} rows, content ${Bun.hash(JSON.stringify(rows)).toString(16)}`
  }
  f.snapshotAt = { changes, tables: out }
  return out
}

// ---- the routes ----

export interface JsonBody {
  /** A body the route accepts; each case breaks one thing in it. */
  valid: (ids: Ids) => Record<string, unknown>
  /** Keys the body must hold. */
  required: Record<string, Kind>
  /** Keys the body may hold, with the kinds of values the schema takes. */
  optional?: Record<string, Kind>
  /** Bodies of the right shape refused for what they say, with the status API.md gives. */
  refused?: (ids: Ids) => [Record<string, unknown>, number][]
  /** What the valid body gets from the fixture when it is not 2xx. */
  validStatuses?: number[]
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Elysia-style path; each `:name` is filled from the fixture ids. */
  path: string
  /** Roles allowed (first one used where one is enough); `member` = dataset group member; `public` = no token. */
  roles: string[]
  body?: JsonBody
  /** Query parameters and their kinds of bad values. */
  query?: Record<string, QueryKind>
  /** A well-formed unknown id in this path creates the resource rather than failing. */
  createsAtPath?: boolean
  /** A page served at any well-formed id. */
  servesAnyId?: boolean
}

/** A route that takes a JSON body. */
export type BodyRoute = Route & { body: JsonBody }

/** Callers the route lets through (the handler's own rule where it decides), privileged roles first. */
function rolesOf(route: AppRoute): string[] {
  const rule = route.example.handlerDecides?.[0]?.access ?? route.access
  if (rule === undefined) return []
  if (rule === 'public') return ['public']
  const members = (mode: 'read' | 'write' | undefined) => MEMBERS.filter((member) => mode !== undefined && member[mode]).map((member) => member.token)
  if ('groups' in rule) return members(rule.groups)
  if (rule.roles === 'any') return [...ROLES, ...members('read')]
  return [...ROLES.filter((role) => (rule.roles as readonly string[]).includes(role)), ...members(rule.dataset)]
}

function jsonBody(route: AppRoute): JsonBody | undefined {
  const { body: schema, example } = route
  if (!schema || !example.body) return undefined
  const required: Record<string, Kind> = {}
  const optional: Record<string, Kind> = {}
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    const kind = kindOf(property, `${route.label} key ${key}`, key === 'status' ? statusResourceOf(route.path) : undefined)
    if (schema.required?.includes(key)) required[key] = kind
    else optional[key] = kind
  }
  return { valid: example.body, required, optional, refused: example.refused, validStatuses: example.validStatuses }
}

/** Every route of the app the tables cover (`routeProblems` in routes.ts names any they do not). */
export const ROUTES: Route[] = appRoutes()
  .filter((route) => route.access !== undefined && (!route.body || route.example.body))
  .map((route) => {
    const query = queryKinds(route)
    return {
      method: route.method as Route['method'],
      path: route.path,
      roles: rolesOf(route),
      body: jsonBody(route),
      query: Object.keys(query).length > 0 ? query : undefined,
      createsAtPath: route.example.createsAtPath,
      servesAnyId: route.example.servesAnyId,
    }
  })

// fast-check shows a route by its method and path in counterexamples.
for (const route of ROUTES) Object.defineProperty(route, fc.toStringMethod, { value: () => label(route) })

export const BODY_ROUTES = ROUTES.filter((route): route is Route & { body: JsonBody } => route.body !== undefined)
export const PARAM_ROUTES = ROUTES.filter((route) => route.path.includes('/:'))
export const QUERY_ROUTES = ROUTES.filter((route): route is Route & { query: Record<string, QueryKind> } => route.query !== undefined)

/** A role the route allows, chosen by fast-check. */
export const roleOf = (route: Route) => fc.constantFrom(...route.roles)
/** A JSON route and a role it allows. */
export const routeAndRole = fc.constantFrom(...BODY_ROUTES).chain((route) => fc.tuple(fc.constant(route), roleOf(route)))

export const label = (route: Route) => `${route.method} ${route.path}`
export const paramNames = (route: Route) => namesIn(route.path)

/** The route's path with its parameters filled from `ids`, or from `values` (already URL-encoded) where given. */
export function pathOf(route: Route, ids: Ids, values: Record<string, string> = {}): string {
  return route.path.replace(/:(\w+)/g, (_, name: string) => values[name] ?? ids[name]!)
}

// ---- sending and checking ----

export interface Sent {
  method: string
  path: string
  /** Bearer token; null sends none. */
  token: string | null
  /** Text or bytes sent as they are; a stream is sent without a Content-Length. */
  body?: string | Uint8Array | ReadableStream<Uint8Array>
  /** Defaults to application/json when there is a body; null sends no Content-Type. */
  contentType?: string | null
  headers?: Record<string, string>
}

export interface Answer {
  status: number
  contentType: string | null
  text: string
}

/** Sends a request exactly as described (support.ts's `call` always adds a JSON Content-Type). */
export async function send(f: Fixture, sent: Sent): Promise<Answer> {
  const headers = new Headers(sent.headers)
  if (sent.token !== null) headers.set('authorization', `Bearer ${sent.token}`)
  const contentType = sent.contentType === undefined ? (sent.body === undefined ? null : 'application/json') : sent.contentType
  if (contentType !== null) headers.set('content-type', contentType)
  const init: RequestInit & { duplex?: 'half' } = { method: sent.method, headers, body: sent.body }
  if (sent.body instanceof ReadableStream) init.duplex = 'half'
  const response = await f.t.app.handle(new Request(`http://localhost${sent.path}`, init))
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() }
}

/** The token for a route: its first role, or the given one. */
export const tokenFor = (f: Fixture, route: Route, role = route.roles[0]!) => f.tokens[role] ?? null

export interface Expectation {
  /** The exact status, when the case has one. */
  status?: number
  /** A check of the error message, e.g. that it names the key. */
  message?: (error: string) => boolean
  /** Describes the message check in a failure. */
  messageDescription?: string
}

/** Expects the error message to be exactly `message`. */
export const says = (message: string): Expectation => ({ message: (error) => error === message, messageDescription: `say ${JSON.stringify(message)}` })

/**
 * Everything wrong with an answer to a request that must be refused: not a
 * 4xx, a body other than exactly {code, error}, a message that does not say
 * why, or any change to the database since `baseline`.
 */
export function refusalProblems(f: Fixture, answer: Answer, baseline: Record<string, string>, expected: Expectation = {}): string[] {
  const problems: string[] = []
  if (answer.status < 400 || answer.status > 499) problems.push(`status ${answer.status} is not 4xx`)
  if (expected.status !== undefined && answer.status !== expected.status) problems.push(`status ${answer.status}, expected ${expected.status}`)
  if (!answer.contentType?.startsWith('application/json')) problems.push(`content-type ${answer.contentType}`)
  let body: unknown
  try {
    body = JSON.parse(answer.text)
  } catch {
    problems.push(`body is not JSON: ${answer.text.slice(0, 200)}`)
  }
  if (body !== undefined) {
    const keys = body !== null && typeof body === 'object' ? Object.keys(body).sort().join(',') : jsonType(body)
    const { code, error } = (body ?? {}) as { code?: unknown; error?: unknown }
    if (keys !== 'code,error') problems.push(`body keys are ${keys}: ${answer.text.slice(0, 200)}`)
    if (code !== answer.status) problems.push(`code ${String(code)} differs from status ${answer.status}`)
    if (typeof error !== 'string' || error.length === 0) problems.push(`error ${JSON.stringify(error)} is not a non-empty string`)
    else if (expected.message && !expected.message(error)) problems.push(`error ${JSON.stringify(error.slice(0, 200))} does not ${expected.messageDescription ?? 'say why'}`)
  }
  const after = snapshot(f)
  for (const table of Object.keys(baseline)) {
    if (after[table] !== baseline[table]) problems.push(`table ${table} changed: ${baseline[table]} -> ${after[table]}`)
  }
  return problems
}

/** Describes a request in a failure message, with long bodies cut. */
export function describe(sent: Pick<Sent, 'method' | 'path'> & { body?: unknown }): string {
  const body = typeof sent.body === 'string' ? sent.body : sent.body === undefined ? '' : `<${(sent.body as object).constructor.name}>`
  const shown = body.length > 300 ? `${body.slice(0, 300)}… (${body.length} chars)` : body
  return `${sent.method} ${sent.path.length > 200 ? sent.path.slice(0, 200) + '…' : sent.path} ${shown}`.trim()
}

/** JSON text of a body; JSON.stringify keeps lone surrogates as \u escapes. */
export const jsonText = (value: unknown) => JSON.stringify(value)

/**
 * Registers this test file's fixture (a fresh app and the snapshot of its
 * tables) and returns it with the check every refused request must pass.
 */
export function refusalSuite() {
  const suite = {
    f: undefined as unknown as Fixture,
    baseline: {} as Record<string, string>,
    /** A request to `route` (its path parameters the fixture's ids, or `values`) with a token of `role`, one it allows by default; no body. */
    addressed(route: Route, role?: string, values?: Record<string, string>): Omit<Sent, 'body'> {
      return { method: route.method, path: pathOf(route, suite.f.ids, values), token: tokenFor(suite.f, route, role) }
    },
    async expectRefused(sent: Sent, expected: Expectation = {}): Promise<void> {
      const answer = await send(suite.f, sent)
      const request = describe(sent)
      expect({ request, problems: refusalProblems(suite.f, answer, suite.baseline, expected) }).toEqual({ request, problems: [] })
    },
  }
  beforeAll(async () => {
    suite.f = await startFixture()
    suite.baseline = snapshot(suite.f)
  })
  afterAll(() => suite.f.t.close())
  return suite
}
