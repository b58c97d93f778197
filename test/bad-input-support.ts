/**
 * Shared by the bad-input tests: a test app with a small body limit and one
 * of every resource, every route of API.md with the keys its body must and
 * may hold (written from API.md, not from the code's schemas), arbitraries of
 * wrong values, and the check every refused request must pass: a 4xx whose
 * body is exactly {code, error}, and a database left exactly as it was.
 */
import { afterAll, beforeAll, expect } from 'bun:test'
import fc from 'fast-check'
import { DATASET_STATUSES, JOB_STATUSES, TASK_STATUSES } from '../src/status'
import { startTestApp, type TestApp } from './support'

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
}

const small = { maxDepth: 2 } as const
const json = fc.jsonValue(small)
const notA = (...types: ('string' | 'number' | 'boolean' | 'null' | 'array' | 'object')[]) =>
  json.filter((value) => !types.includes(jsonType(value)))

export function jsonType(value: unknown): 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object' {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value as 'string' | 'number' | 'boolean' | 'object'
}

/** Finite doubles that are not integers (JSON cannot carry NaN or Infinity). */
const fraction = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((v) => !Number.isInteger(v))
const negativeNumber = fc.double({ noNaN: true, noDefaultInfinity: true, max: -Number.MIN_VALUE })

export const STRING: Kind = { name: 'string', wrong: notA('string') }
export const NON_EMPTY_STRING: Kind = { name: 'non-empty string', wrong: fc.oneof(notA('string'), fc.constant('')) }
export const NUMBER: Kind = { name: 'number', wrong: notA('number') }
export const NON_NEGATIVE_NUMBER: Kind = { name: 'number ≥ 0', wrong: fc.oneof(notA('number'), negativeNumber) }
export const INTEGER: Kind = { name: 'integer', wrong: fc.oneof(notA('number'), fraction, fc.integer().map(String)) }
export const COUNT: Kind = {
  name: 'integer ≥ 0',
  wrong: fc.oneof(notA('number'), fraction, fc.integer({ max: -1 }), fc.nat().map(String)),
}
export const BOOLEAN: Kind = { name: 'boolean', wrong: fc.oneof(notA('boolean'), fc.constantFrom('true', 'false', 0, 1)) }
export const OBJECT: Kind = { name: 'object', wrong: notA('object') }
export const NAMES: Kind = {
  name: 'array of strings',
  wrong: fc.oneof(notA('array'), fc.array(json, { minLength: 1, maxLength: 4 }).filter((items) => items.some((item) => typeof item !== 'string'))),
}
export const WEIGHTS: Kind = {
  name: 'object of numbers',
  wrong: fc.oneof(notA('object'), fc.dictionary(fc.string({ maxLength: 8 }), notA('number'), { minKeys: 1, maxKeys: 3 })),
}

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

const status = (list: readonly string[]): Kind => ({ name: 'status', wrong: notA('string'), badStrings: notStatus(list) })
export const DATASET_STATUS = status(DATASET_STATUSES)
export const JOB_STATUS = status(JOB_STATUSES)
export const TASK_STATUS = status(TASK_STATUSES)

/** Whether a key of this kind takes strings (so a number, not a string, is its wrong value). */
export function acceptsStrings(kind: Kind): boolean {
  return kind === STRING || kind === NON_EMPTY_STRING || kind.badStrings !== undefined
}

// ---- the app and its fixtures ----

/** Fixture ids by path parameter name; filled in by `startFixture`. */
export type Ids = Record<string, string>

export interface Fixture {
  t: TestApp
  ids: Ids
  /** Tokens by role; `member` is an anonymous token whose groups give read and write on the fixture dataset. */
  tokens: Record<string, string | null>
  tables: string[]
}

export const DATASET_GROUP = '/badinput/ds'
export const FIXTURE_ROLE = 'badinput_role'
let seq = 0
export const unique = (prefix: string) => `${prefix}${++seq}`

export async function startFixture(): Promise<Fixture> {
  const t = await startTestApp({ logLevel: 'silent', maxBody: MAX_BODY })
  const ok = async (method: string, path: string, body: unknown) => {
    const r = await t.call(method, path, { body })
    if (r.status >= 300) throw new Error(`fixture ${method} ${path}: ${r.status} ${r.text}`)
    return r.body?.result?.split('/').pop() as string
  }
  const ids: Ids = {}
  await ok('POST', '/groups', { name: DATASET_GROUP })
  ids.group_id = await ok('POST', '/groups', { name: '/badinput/spare' })
  ids.user_id = await ok('POST', '/users', { username: 'badinput_user' })
  // A stored admin, so that /create_token can derive from the admin token.
  await ok('POST', '/users', { username: 'badinput_admin', roles: ['admin'], groups: [DATASET_GROUP] })
  await ok('PUT', `/roles/${FIXTURE_ROLE}`, {})
  ids.role_name = FIXTURE_ROLE
  ids.dataset_id = await ok('POST', '/datasets', { description: 'bad input', jobs_submitted: 10, tasks_submitted: 10, group: DATASET_GROUP })
  ids.job_id = await ok('POST', '/jobs', { dataset_id: ids.dataset_id, job_index: 0 })
  ids.task_id = await ok('POST', '/tasks', { dataset_id: ids.dataset_id, job_id: ids.job_id, task_index: 0, name: 'generate', depends: [], requirements: { cpu: 1 } })
  ids.task_stat_id = await ok('POST', `/tasks/${ids.task_id}/task_stats`, { dataset_id: ids.dataset_id, cpu: 1 })
  ids.log_id = await ok('POST', `/datasets/${ids.dataset_id}/logs`, { data: 'log text', task_id: ids.task_id })
  ids.grid_id = await ok('POST', '/grids', { host: 'h', queues: {}, version: '1' })
  ids.pilot_id = await ok('POST', '/pilots', { queue_host: 'h', queue_version: '1', resources: {}, grid_id: ids.grid_id })
  await ok('PUT', `/datasets/${ids.dataset_id}/config`, { steps: [] })
  ids.action = 'read'

  const tokens: Record<string, string | null> = { public: null }
  for (const role of ['system', 'client', 'pilot', 'user']) tokens[role] = await t.token(role, { groups: [DATASET_GROUP] })
  tokens.admin = await t.token('admin', { username: 'badinput_admin', groups: [DATASET_GROUP] })
  tokens.member = await t.token('anonymous', { groups: [DATASET_GROUP] })
  const tables = (t.ctx.sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((row) => row.name)
  return { t, ids, tokens, tables }
}

/** Every table's row count and a hash of its whole content: any write changes it. */
export function snapshot(f: Fixture): Record<string, string> {
  const out: Record<string, string> = {}
  for (const table of f.tables) {
    const rows = f.t.ctx.sqlite.query(`SELECT * FROM "${table}"`).values()
    out[table] = `${f.t.count(table)} rows, content ${Bun.hash(JSON.stringify(rows)).toString(16)}`
  }
  return out
}

// ---- the routes ----

export interface JsonBody {
  /** A body the route accepts; each case breaks one thing in it. */
  valid: (ids: Ids) => Record<string, unknown>
  /** Keys the body must hold. */
  required: Record<string, Kind>
  /** Keys the body may hold, with the type API.md gives them. */
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
}

/** A route that takes a JSON body. */
export type BodyRoute = Route & { body: JsonBody }

export type QueryKind = 'status:dataset' | 'status:job' | 'status:task' | 'keys' | 'integer' | 'positive integer' | 'order' | 'boolean'

const ASC = ['admin', 'system', 'client']
const ASC_READ = [...ASC, 'member']
const ADMIN_READ = ['admin', 'member']
const dataset = (ids: Ids) => ids.dataset_id!
const LIST = { status: 'status:task', keys: 'keys' } as const

export const ROUTES: Route[] = [
  // 4.1 Auth
  { method: 'PUT', path: '/roles/:role_name', roles: ['admin'], createsAtPath: true, body: { valid: () => ({}), required: {}, optional: { name: STRING }, refused: () => [[{ name: 'other_role' }, 400]] } },
  { method: 'GET', path: '/roles/:role_name', roles: ['admin'] },
  { method: 'DELETE', path: '/roles/:role_name', roles: ['admin'] },
  {
    method: 'POST', path: '/groups', roles: ['admin'],
    body: { valid: () => ({ name: unique('/badinput/new') }), required: { name: STRING }, refused: () => [[{ name: DATASET_GROUP }, 409]] },
  },
  { method: 'GET', path: '/groups/:group_id', roles: ['admin'] },
  { method: 'DELETE', path: '/groups/:group_id', roles: ['admin'] },
  {
    method: 'POST', path: '/users', roles: ['admin'],
    body: {
      valid: () => ({ username: unique('badinput_new'), roles: ['user'], groups: [DATASET_GROUP] }),
      required: { username: STRING },
      optional: { roles: NAMES, groups: NAMES },
      refused: () => [[{ username: 'badinput_user' }, 409], [{ username: 'badinput_x', roles: ['nosuchrole'] }, 400], [{ username: 'badinput_y', groups: ['/nosuchgroup'] }, 400]],
    },
  },
  { method: 'GET', path: '/users/:user_id', roles: ['admin'] },
  { method: 'DELETE', path: '/users/:user_id', roles: ['admin'] },
  { method: 'GET', path: '/users/:user_id/groups', roles: ['admin'] },
  { method: 'POST', path: '/users/:user_id/groups', roles: ['admin'], body: { valid: () => ({ group: DATASET_GROUP }), required: { group: STRING }, refused: () => [[{ group: '/nosuchgroup' }, 400]] } },
  { method: 'PUT', path: '/users/:user_id/groups', roles: ['admin'], body: { valid: () => ({ groups: [DATASET_GROUP] }), required: { groups: NAMES }, refused: () => [[{ groups: ['/nosuchgroup'] }, 400]] } },
  { method: 'PUT', path: '/users/:user_id/roles', roles: ['admin'], body: { valid: () => ({ roles: ['user'] }), required: { roles: NAMES }, refused: () => [[{ roles: ['nosuchrole'] }, 400]] } },
  {
    method: 'POST', path: '/ldap', roles: ['public'],
    body: {
      valid: () => ({ username: 'someone', password: 'pw' }),
      required: { username: NON_EMPTY_STRING, password: STRING },
      refused: () => [[{ username: 'someone', password: '' }, 401]],
      // LDAP is not configured in the test app.
      validStatuses: [501],
    },
  },
  {
    method: 'POST', path: '/create_token', roles: ['admin', 'user', 'client'],
    body: {
      valid: () => ({ type: 'system', role: 'system', exp: 60 }),
      required: {},
      optional: { type: STRING, role: STRING, exp: INTEGER },
      refused: () => [[{ type: 'root' }, 400], [{ exp: -1 }, 400]],
    },
  },
  {
    method: 'PUT', path: '/auths/:dataset_id', roles: ['admin', 'system'],
    body: {
      valid: () => ({ read_groups: [DATASET_GROUP], write_groups: [DATASET_GROUP] }),
      required: { read_groups: NAMES, write_groups: NAMES },
      refused: () => [[{ read_groups: ['/nosuchgroup'], write_groups: [] }, 400]],
    },
  },
  { method: 'GET', path: '/auths/:dataset_id', roles: ['admin'] },
  { method: 'GET', path: '/auths/:dataset_id/actions/:action', roles: ['member', 'admin', 'pilot'] },
  // 4.2 Datasets
  { method: 'GET', path: '/datasets', roles: ['admin', 'system', 'client', 'user'], query: { status: 'status:dataset', keys: 'keys' } },
  {
    method: 'POST', path: '/datasets', roles: ['admin', 'user'],
    body: {
      valid: () => ({ description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: DATASET_GROUP, priority: 1.5, debug: true }),
      required: { description: STRING, jobs_submitted: COUNT, tasks_submitted: COUNT, group: STRING },
      optional: { priority: NUMBER, debug: BOOLEAN },
      refused: () => [[{ description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: '/nosuchgroup' }, 400]],
    },
  },
  { method: 'GET', path: '/datasets/:dataset_id', roles: [...ASC, 'pilot', 'member'] },
  { method: 'PUT', path: '/datasets/:dataset_id/status', roles: ASC_READ, body: { valid: () => ({ status: 'suspended' }), required: { status: DATASET_STATUS } } },
  { method: 'PUT', path: '/datasets/:dataset_id/description', roles: ADMIN_READ, body: { valid: () => ({ description: 'new' }), required: { description: STRING } } },
  {
    method: 'PUT', path: '/datasets/:dataset_id/jobs_submitted', roles: ADMIN_READ,
    body: { valid: () => ({ jobs_submitted: 20 }), required: { jobs_submitted: COUNT }, refused: () => [[{ jobs_submitted: 0 }, 400]] },
  },
  { method: 'GET', path: '/dataset_summaries/status', roles: ['admin', 'system', 'client', 'user'] },
  // 4.3 Config
  ...['/datasets/:dataset_id/config', '/config/:dataset_id'].flatMap((path): Route[] => [
    { method: 'GET', path, roles: ['admin', 'client', 'pilot', 'member'] },
    {
      method: 'PUT', path, roles: ADMIN_READ,
      // Any JSON object is a config (a dataset_id in it is replaced by the path's): only what no document may hold is refused.
      body: { valid: (ids) => ({ dataset_id: 'otherdataset', steps: [{ name: 'x' }] }), required: {}, refused: () => [[{ note: '\ud800' }, 400], [{ steps: [{ name: 'a\udfffb' }] }, 400]] },
    },
  ]),
  // 4.4 Jobs
  {
    method: 'POST', path: '/jobs', roles: ASC,
    body: {
      valid: (ids) => ({ dataset_id: dataset(ids), job_index: 1000 + ++seq }),
      required: { dataset_id: STRING, job_index: COUNT },
      refused: (ids) => [[{ dataset_id: 'nosuchdataset', job_index: 1 }, 400], [{ dataset_id: dataset(ids), job_index: 0 }, 409]],
    },
  },
  { method: 'GET', path: '/jobs/:job_id', roles: [...ASC, 'pilot'] },
  {
    method: 'PATCH', path: '/jobs/:job_id', roles: ASC,
    body: {
      valid: () => ({ note: 'x' }),
      required: {},
      optional: { status: JOB_STATUS, job_index: COUNT },
      refused: () => [[{}, 400], [{ job_id: 'other' }, 400], [{ dataset_id: 'other' }, 400], [{ job_index: 99 }, 400]],
    },
  },
  { method: 'GET', path: '/datasets/:dataset_id/jobs', roles: ASC_READ, query: { status: 'status:job', job_index: 'integer', keys: 'keys' } },
  { method: 'GET', path: '/datasets/:dataset_id/jobs/:job_id', roles: ASC_READ },
  { method: 'PUT', path: '/datasets/:dataset_id/jobs/:job_id/status', roles: ASC_READ, body: { valid: () => ({ status: 'processing' }), required: { status: JOB_STATUS } } },
  { method: 'GET', path: '/datasets/:dataset_id/job_summaries/status', roles: ASC_READ },
  { method: 'GET', path: '/datasets/:dataset_id/job_counts/status', roles: ASC_READ },
  // 4.5 Tasks
  {
    method: 'POST', path: '/tasks', roles: ASC,
    body: {
      valid: (ids) => ({ dataset_id: dataset(ids), job_id: ids.job_id, task_index: 1, name: 'filter', depends: [ids.task_id], requirements: { gpu: 1 } }),
      required: { dataset_id: STRING, job_id: STRING, task_index: COUNT, name: STRING, depends: NAMES, requirements: OBJECT },
      refused: (ids) => [
        [{ dataset_id: dataset(ids), job_id: 'nosuchjob', task_index: 1, name: 'x', depends: [], requirements: {} }, 400],
        [{ dataset_id: 'otherdataset', job_id: ids.job_id, task_index: 1, name: 'x', depends: [], requirements: {} }, 400],
      ],
    },
  },
  { method: 'GET', path: '/tasks', roles: ASC, query: LIST },
  { method: 'GET', path: '/tasks/:task_id', roles: [...ASC, 'pilot'] },
  {
    method: 'PATCH', path: '/tasks/:task_id', roles: [...ASC, 'pilot'],
    body: {
      valid: () => ({ note: 'x' }),
      required: {},
      optional: {
        status: TASK_STATUS, task_index: COUNT, name: STRING, depends: NAMES, requirements: OBJECT,
        failures: COUNT, evictions: COUNT, walltime: NUMBER, walltime_err: NUMBER, walltime_err_n: COUNT,
      },
      refused: () => [[{}, 400], [{ task_id: 'other' }, 400], [{ dataset_id: 'other' }, 400], [{ job_id: 'other' }, 400], [{ job_index: 99 }, 400]],
    },
  },
  { method: 'PUT', path: '/tasks/:task_id/status', roles: [...ASC, 'pilot'], body: { valid: () => ({ status: 'waiting' }), required: { status: TASK_STATUS } } },
  {
    method: 'GET', path: '/datasets/:dataset_id/tasks', roles: ASC_READ,
    query: { status: 'status:task', job_index: 'integer', keys: 'keys' },
  },
  { method: 'GET', path: '/datasets/:dataset_id/tasks/:task_id', roles: ASC_READ },
  { method: 'PUT', path: '/datasets/:dataset_id/tasks/:task_id/status', roles: ASC_READ, body: { valid: () => ({ status: 'waiting' }), required: { status: TASK_STATUS } } },
  { method: 'GET', path: '/datasets/:dataset_id/task_summaries/status', roles: ASC_READ },
  { method: 'GET', path: '/datasets/:dataset_id/task_counts/status', roles: ASC_READ },
  { method: 'GET', path: '/datasets/:dataset_id/task_counts/name_status', roles: ASC_READ },
  { method: 'GET', path: '/datasets/:dataset_id/task_stats', roles: ASC_READ },
  // 4.5.1 Task lifecycle
  {
    method: 'POST', path: '/task_actions/queue', roles: ['admin', 'client'],
    body: { valid: (ids) => ({ num_tasks: 1, dataset_prio: { [dataset(ids)]: 2 } }), required: {}, optional: { num_tasks: COUNT, dataset_prio: WEIGHTS } },
  },
  {
    method: 'POST', path: '/task_actions/process', roles: ['admin', 'pilot'],
    body: { valid: () => ({ requirements: { cpu: 4 } }), required: {}, optional: { requirements: OBJECT }, validStatuses: [404] },
  },
  ...['reset', 'complete'].map((action): Route => ({
    method: 'POST', path: `/tasks/:task_id/task_actions/${action}`, roles: ['admin', 'pilot'],
    body: { valid: () => ({ time_used: 60 }), required: {}, optional: { time_used: NON_NEGATIVE_NUMBER }, validStatuses: [404] },
  })),
  // 4.6 Task stats
  {
    method: 'POST', path: '/tasks/:task_id/task_stats', roles: ['admin', 'client', 'pilot'],
    body: { valid: (ids) => ({ dataset_id: dataset(ids), walltime: 3 }), required: { dataset_id: STRING }, refused: () => [[{ dataset_id: 'otherdataset' }, 400]] },
  },
  { method: 'GET', path: '/datasets/:dataset_id/tasks/:task_id/task_stats', roles: ADMIN_READ, query: { keys: 'keys', last: 'boolean' } },
  { method: 'GET', path: '/datasets/:dataset_id/tasks/:task_id/task_stats/:task_stat_id', roles: ADMIN_READ },
  // 4.7 Logs
  {
    method: 'POST', path: '/logs', roles: ['admin', 'pilot'],
    body: { valid: (ids) => ({ data: 'text', dataset_id: dataset(ids), task_id: ids.task_id, name: 'stdout' }), required: { data: STRING }, optional: { dataset_id: STRING, task_id: STRING, name: STRING } },
  },
  { method: 'GET', path: '/logs/:log_id', roles: ['admin'] },
  {
    method: 'POST', path: '/datasets/:dataset_id/logs', roles: ADMIN_READ,
    body: {
      valid: (ids) => ({ data: 'text', task_id: ids.task_id, name: 'stderr', dataset_id: 'otherdataset' }),
      required: { data: STRING },
      // dataset_id comes from the path, whatever the body says.
      optional: { task_id: STRING, name: STRING },
    },
  },
  { method: 'GET', path: '/datasets/:dataset_id/logs/:log_id', roles: ADMIN_READ },
  { method: 'GET', path: '/datasets/:dataset_id/tasks/:task_id/logs', roles: ADMIN_READ, query: { num: 'positive integer', order: 'order', group: 'boolean', keys: 'keys' } },
  // 4.8 Grids
  { method: 'GET', path: '/grids', roles: ['admin', 'client'] },
  {
    method: 'POST', path: '/grids', roles: ['admin', 'client'],
    body: { valid: () => ({ host: 'h', queues: { q: {} }, version: '2' }), required: { host: STRING, queues: OBJECT, version: STRING }, optional: { debug: BOOLEAN } },
  },
  { method: 'GET', path: '/grids/:grid_id', roles: ['admin', 'client'] },
  {
    method: 'PATCH', path: '/grids/:grid_id', roles: ['admin', 'client'],
    body: {
      valid: () => ({ note: 'x' }),
      required: {},
      optional: { host: STRING, queues: OBJECT, version: STRING, debug: BOOLEAN },
      refused: () => [[{}, 400], [{ grid_id: 'other' }, 400]],
    },
  },
  // 4.9 Pilots
  { method: 'GET', path: '/pilots', roles: ASC, query: { keys: 'keys' } },
  ...((): Route[] => {
    const defaulted = { tasks: NAMES, host: STRING, version: STRING, grid_queue_id: STRING, available: OBJECT, claimed: OBJECT }
    return [
      {
        method: 'POST', path: '/pilots', roles: ['admin', 'client'],
        body: {
          valid: () => ({ queue_host: 'h', queue_version: '1', resources: { cpu: 1 } }),
          required: { queue_host: STRING, queue_version: STRING, resources: OBJECT },
          optional: { grid_id: STRING, ...defaulted },
        },
      },
      {
        method: 'PATCH', path: '/pilots/:pilot_id', roles: ['admin', 'client', 'pilot'],
        body: {
          valid: () => ({ note: 'x' }),
          required: {},
          optional: { queue_host: STRING, queue_version: STRING, resources: OBJECT, grid_id: STRING, ...defaulted },
          refused: () => [[{}, 400], [{ pilot_id: 'other' }, 400]],
        },
      },
    ]
  })(),
  { method: 'GET', path: '/pilots/:pilot_id', roles: ['admin', 'client', 'pilot'] },
  { method: 'DELETE', path: '/pilots/:pilot_id', roles: ['admin', 'client', 'pilot'] },
  { method: 'PUT', path: '/pilots/:pilot_id/tasks', roles: ['admin', 'client', 'pilot'], body: { valid: (ids) => ({ tasks: [ids.task_id] }), required: { tasks: NAMES } } },
]

// fast-check shows a route by its method and path in counterexamples.
for (const route of ROUTES) Object.defineProperty(route, fc.toStringMethod, { value: () => label(route) })

export const BODY_ROUTES = ROUTES.filter((route): route is Route & { body: JsonBody } => route.body !== undefined)
export const PARAM_ROUTES = ROUTES.filter((route) => route.path.includes('/:'))
export const QUERY_ROUTES = ROUTES.filter((route): route is Route & { query: Record<string, QueryKind> } => route.query !== undefined)

export const label = (route: Route) => `${route.method} ${route.path}`
export const paramNames = (route: Route) => [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!)

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
