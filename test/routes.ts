/**
 * Every route of the app as the route-wide tests (the access matrix, the
 * bad-input tests) see it: method, path, declared access rule, body and
 * query schemas, read from the app itself (`app.routes`, and the rules the
 * access macro was given), so that a new route is covered without editing a
 * table. What the schemas cannot say comes from ROUTE_EXAMPLES (a body the
 * route accepts, bodies it refuses...), QUERY_KINDS (what a query parameter
 * means) and the fixture (one sample id per path parameter name);
 * `routeProblems` names what a new route still lacks there, and a test fails
 * on it.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app'
import { declaredAccess, type AccessRule, type DatasetMode } from '../src/auth/access'
import { loadConfig, type Config } from '../src/config'
import { copyMigratedDatabase, startTestApp, TEST_SECRET, type TestApp } from './support'

/** The part of a route's TypeBox schema the tests read (TypeBox schemas are JSON Schema). */
export interface JsonSchema {
  type?: string
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  additionalProperties?: boolean | JsonSchema
  minimum?: number
  maximum?: number
  minLength?: number
}

/** Sample path parameter values by name; filled in by `startRouteFixture`. */
export type Ids = Record<string, string>

/** Who may call a route, as the access matrix expects it when the handler (not the guard) decides. */
export type ExpectedAccess = AccessRule | { groups: DatasetMode }

/** What the tests need to know about a route that its schemas cannot say. */
export interface RouteExample {
  /** A body the route accepts (every route with a body schema needs one); each bad-input case breaks one thing in it. */
  body?: (ids: Ids) => Record<string, unknown>
  /** Bodies of the right shape refused for what they say, with the status API.md gives. */
  refused?: (ids: Ids) => [Record<string, unknown>, number][]
  /** What the example body gets from the fixture when it is not 2xx (never a fault otherwise). */
  validStatuses?: number[]
  /** A well-formed unknown id in this path creates the resource rather than failing. */
  createsAtPath?: boolean
  /** A page served at any well-formed id (the dashboard's views): the page says what the API has there. */
  servesAnyId?: boolean
  /**
   * The handler decides who may call, within what the declared rule lets
   * through: what the access matrix expects instead, for each set of path
   * parameters it is called with.
   */
  handlerDecides?: { params?: Ids; access: ExpectedAccess }[]
}

/** What a query parameter means: the kinds of values it refuses (`text`: any value is taken). */
export type QueryKind = 'status:dataset' | 'status:job' | 'status:task' | 'keys' | 'integer' | 'positive integer' | 'order' | 'boolean' | 'task id'

export interface AppRoute {
  method: string
  path: string
  /** `${method} ${path}`: how the tables below and the test names refer to the route. */
  label: string
  /** The rule the route declared; undefined when it declares none (which `routeProblems` reports). */
  access: AccessRule | undefined
  body?: JsonSchema
  query?: JsonSchema
  example: RouteExample
}

// ---- the fixture: one of every resource, and a token for every kind of caller ----

export const PARENT_GROUP = '/fixture'
export const DATASET_GROUP = '/fixture/ds'
export const READER_GROUP = '/fixture/reader'
/** The group of every role token: no group of the fixture dataset, so that the role alone decides. */
export const OTHER_GROUP = '/fixture-other'
export const FIXTURE_ROLE = 'fixture_role'
export const FIXTURE_USER = 'fixture_user'
/** A stored admin, so that /create_token can derive from the admin token. */
export const FIXTURE_ADMIN = 'fixture_admin'
export const DATASET_RULE = { read_groups: [DATASET_GROUP, READER_GROUP], write_groups: [DATASET_GROUP] }

export const ROLES = ['admin', 'system', 'client', 'pilot', 'user', 'anonymous'] as const

/** Anonymous tokens whose groups alone give access to the fixture dataset (`member` may write it). */
export const MEMBERS = [
  { token: 'member', name: 'writer', read: true, write: true },
  { token: 'parent', name: 'parent path group', read: true, write: true },
  { token: 'reader', name: 'reader', read: true, write: false },
  { token: 'nonmember', name: 'non-member', read: false, write: false },
] as const

export interface RouteFixture {
  t: TestApp
  /** Sample path parameters by name: each names a resource that exists. */
  ids: Ids
  /** By role (groups: OTHER_GROUP only), by member kind (see MEMBERS), and `public`: no token. */
  tokens: Record<string, string | null>
}

export async function startRouteFixture(overrides: Partial<Config> = {}): Promise<RouteFixture> {
  const t = await startTestApp(overrides)
  const ok = async (method: string, path: string, body: unknown) => {
    const r = await t.call(method, path, { body })
    if (r.status >= 300) throw new Error(`fixture ${method} ${path}: ${r.status} ${r.text}`)
    return r.body?.result?.split('/').pop() as string
  }
  const ids: Ids = {}
  for (const name of [PARENT_GROUP, DATASET_GROUP, READER_GROUP, OTHER_GROUP]) await ok('POST', '/groups', { name })
  ids.group_id = await ok('POST', '/groups', { name: `${PARENT_GROUP}/spare` })
  ids.user_id = await ok('POST', '/users', { username: FIXTURE_USER })
  await ok('POST', '/users', { username: FIXTURE_ADMIN, roles: ['admin'], groups: [DATASET_GROUP] })
  await ok('PUT', `/roles/${FIXTURE_ROLE}`, {})
  ids.role_name = FIXTURE_ROLE
  ids.dataset_id = await ok('POST', '/datasets', { description: 'fixture', jobs_submitted: 10, tasks_submitted: 10, group: DATASET_GROUP })
  await ok('PUT', `/auths/${ids.dataset_id}`, DATASET_RULE)
  ids.job_id = await ok('POST', '/jobs', { dataset_id: ids.dataset_id, job_index: 0 })
  ids.task_id = await ok('POST', '/tasks', { dataset_id: ids.dataset_id, job_id: ids.job_id, task_index: 0, name: 'generate', depends: [], requirements: { cpu: 1 } })
  ids.task_stat_id = await ok('POST', `/tasks/${ids.task_id}/task_stats`, { dataset_id: ids.dataset_id, cpu: 1 })
  ids.log_id = await ok('POST', `/datasets/${ids.dataset_id}/logs`, { data: 'log text', task_id: ids.task_id })
  ids.grid_id = await ok('POST', '/grids', { host: 'h', queues: {}, version: '1' })
  ids.pilot_id = await ok('POST', '/pilots', { queue_host: 'h', queue_version: '1', resources: {}, grid_id: ids.grid_id })
  await ok('PUT', `/datasets/${ids.dataset_id}/config`, { steps: [] })
  ids.action = 'read'
  ids.status = 'waiting'
  ids.name = 'generate'

  const tokens: Record<string, string | null> = { public: null }
  for (const role of ROLES) tokens[role] = await t.token(role, { groups: [OTHER_GROUP] })
  tokens.admin = await t.token('admin', { username: FIXTURE_ADMIN, groups: [OTHER_GROUP] })
  tokens.member = await t.token('anonymous', { groups: [DATASET_GROUP] })
  tokens.parent = await t.token('anonymous', { groups: [PARENT_GROUP] })
  tokens.reader = await t.token('anonymous', { groups: [READER_GROUP] })
  tokens.nonmember = await t.token('anonymous', { groups: [OTHER_GROUP] })
  return { t, ids, tokens }
}

// ---- what the schemas cannot say ----

let seq = 0
export const unique = (prefix: string) => `${prefix}${++seq}`
const dataset = (ids: Ids) => ids.dataset_id!

/** Keyed by route label; only routes that take a body or need something said about them. */
export const ROUTE_EXAMPLES: Record<string, RouteExample> = {
  // 4.1 Auth
  'PUT /roles/:role_name': { createsAtPath: true, body: () => ({}), refused: () => [[{ name: 'other_role' }, 400]] },
  'POST /groups': { body: () => ({ name: unique(`${PARENT_GROUP}/new`) }), refused: () => [[{ name: DATASET_GROUP }, 409]] },
  'POST /users': {
    body: () => ({ username: unique('fixture_new'), roles: ['user'], groups: [DATASET_GROUP] }),
    refused: () => [[{ username: FIXTURE_USER }, 409], [{ username: 'fixture_x', roles: ['nosuchrole'] }, 400], [{ username: 'fixture_y', groups: ['/nosuchgroup'] }, 400]],
  },
  'POST /users/:user_id/groups': { body: () => ({ group: DATASET_GROUP }), refused: () => [[{ group: '/nosuchgroup' }, 400]] },
  'PUT /users/:user_id/groups': { body: () => ({ groups: [DATASET_GROUP] }), refused: () => [[{ groups: ['/nosuchgroup'] }, 400]] },
  'PUT /users/:user_id/roles': { body: () => ({ roles: ['user'] }), refused: () => [[{ roles: ['nosuchrole'] }, 400]] },
  'POST /ldap': {
    body: () => ({ username: 'someone', password: 'pw' }),
    refused: () => [[{ username: 'someone', password: '' }, 401]],
    // LDAP is not configured in the test app.
    validStatuses: [501],
  },
  'POST /create_token': { body: () => ({ type: 'system', role: 'system', exp: 60 }), refused: () => [[{ type: 'root' }, 400], [{ exp: -1 }, 400]] },
  // The fixture's own rule: the cases after this one still find it.
  'PUT /auths/:dataset_id': { body: () => DATASET_RULE, refused: () => [[{ read_groups: ['/nosuchgroup'], write_groups: [] }, 400]] },
  'GET /auths/:dataset_id/actions/:action': {
    // Read: the token's groups alone, roles do not count (API.md 4.1). Write: whoever may run the dataset's actions (§7.2: admin, write).
    handlerDecides: [
      { params: { action: 'read' }, access: { groups: 'read' } },
      { params: { action: 'write' }, access: { roles: ['admin'], dataset: 'write' } },
    ],
  },
  // 4.2 Datasets
  'POST /datasets': {
    // In the group every role token holds: a user may create datasets only in its own groups.
    body: () => ({ description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: OTHER_GROUP, priority: 1.5, debug: true }),
    refused: () => [[{ description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: '/nosuchgroup' }, 400]],
  },
  'PUT /datasets/:dataset_id/status': { body: () => ({ status: 'suspended' }) },
  'PUT /datasets/:dataset_id/description': { body: () => ({ description: 'new' }) },
  'PUT /datasets/:dataset_id/jobs_submitted': { body: () => ({ jobs_submitted: 20 }), refused: () => [[{ jobs_submitted: 0 }, 400]] },
  'PUT /datasets/:dataset_id/priority': { body: () => ({ priority: 2.5 }) },
  // 4.3 Config
  ...Object.fromEntries(
    ['PUT /datasets/:dataset_id/config', 'PUT /config/:dataset_id'].map((label): [string, RouteExample] => [
      label,
      // Any JSON object is a config (a dataset_id in it is replaced by the path's): only what no document may hold is refused.
      { body: () => ({ dataset_id: 'otherdataset', steps: [{ name: 'x' }] }), refused: () => [[{ note: '\ud800' }, 400], [{ steps: [{ name: 'a\udfffb' }] }, 400]] },
    ]),
  ),
  // 4.4 Jobs
  'POST /jobs': {
    body: (ids) => ({ dataset_id: dataset(ids), job_index: 1000 + ++seq }),
    refused: (ids) => [[{ dataset_id: 'nosuchdataset', job_index: 1 }, 400], [{ dataset_id: dataset(ids), job_index: 0 }, 409]],
  },
  'PATCH /jobs/:job_id': { body: () => ({ note: 'x' }), refused: () => [[{}, 400], [{ job_id: 'other' }, 400], [{ dataset_id: 'other' }, 400], [{ job_index: 99 }, 400]] },
  'PUT /datasets/:dataset_id/jobs/:job_id/status': { body: () => ({ status: 'processing' }) },
  // 4.5 Tasks
  'POST /tasks': {
    body: (ids) => ({ dataset_id: dataset(ids), job_id: ids.job_id, task_index: 1, name: 'filter', depends: [ids.task_id], requirements: { gpu: 1 } }),
    refused: (ids) => [
      [{ dataset_id: dataset(ids), job_id: 'nosuchjob', task_index: 1, name: 'x', depends: [], requirements: {} }, 400],
      [{ dataset_id: 'otherdataset', job_id: ids.job_id, task_index: 1, name: 'x', depends: [], requirements: {} }, 400],
    ],
  },
  'PATCH /tasks/:task_id': {
    body: () => ({ note: 'x' }),
    refused: () => [[{}, 400], [{ task_id: 'other' }, 400], [{ dataset_id: 'other' }, 400], [{ job_id: 'other' }, 400], [{ job_index: 99 }, 400]],
  },
  'PUT /tasks/:task_id/status': { body: () => ({ status: 'waiting' }) },
  'PUT /datasets/:dataset_id/tasks/:task_id/status': { body: () => ({ status: 'waiting' }) },
  // 4.5.1 Task lifecycle
  'POST /task_actions/queue': { body: (ids) => ({ num_tasks: 1, dataset_prio: { [dataset(ids)]: 2 } }) },
  'POST /task_actions/process': { body: () => ({ requirements: { cpu: 4 } }), validStatuses: [404] },
  'POST /tasks/:task_id/task_actions/reset': { body: () => ({ time_used: 60 }), validStatuses: [404] },
  'POST /tasks/:task_id/task_actions/complete': { body: () => ({ time_used: 60 }), validStatuses: [404] },
  // 7.2 Operator actions
  ...Object.fromEntries(
    ['bulk_suspend', 'bulk_reset', 'bulk_hard_reset', 'bulk_status/:status'].map((action): [string, RouteExample] => [
      `POST /datasets/:dataset_id/task_actions/${action}`,
      {
        body: (ids) => ({ task_ids: [ids.task_id], status: ['waiting', 'queued', 'failed', 'suspended'], name: 'generate' }),
        // An unknown status in the filter, an id of nothing, a key that is no filter (IceProd v3's `tasks`).
        // First one refused before the action's transaction: the refusal bad-input-transport sends many times.
        refused: (ids) => [[{ status: ['waiting', 'bogus'] }, 400], [{ task_ids: [ids.task_id, 'nosuchtask'] }, 400], [{ tasks: [ids.task_id] }, 400]],
      },
    ]),
  ),
  'PATCH /datasets/:dataset_id/task_actions/bulk_requirements/:name': { body: () => ({ gpu: 0, os: 'RHEL_8' }), refused: () => [[{}, 400]] },
  ...Object.fromEntries(
    ['bulk_suspend', 'bulk_reset', 'bulk_hard_reset'].map((action): [string, RouteExample] => [
      `POST /datasets/:dataset_id/job_actions/${action}`,
      // A key that is no filter first: refused before the action's transaction, as above.
      { body: (ids) => ({ job_ids: [ids.job_id] }), refused: (ids) => [[{ jobs: [ids.job_id] }, 400], [{ job_ids: [ids.job_id, 'nosuchjob'] }, 400]] },
    ]),
  ),
  // 4.6 Task stats
  'POST /tasks/:task_id/task_stats': { body: (ids) => ({ dataset_id: dataset(ids), walltime: 3 }), refused: () => [[{ dataset_id: 'otherdataset' }, 400]] },
  // 4.7 Logs
  'POST /logs': { body: (ids) => ({ data: 'text', dataset_id: dataset(ids), task_id: ids.task_id, name: 'stdout' }) },
  // dataset_id comes from the path, whatever the body says.
  'POST /datasets/:dataset_id/logs': { body: (ids) => ({ data: 'text', task_id: ids.task_id, name: 'stderr', dataset_id: 'otherdataset' }) },
  // 4.8 Grids
  'POST /grids': { body: () => ({ host: 'h', queues: { q: {} }, version: '2' }) },
  'PATCH /grids/:grid_id': { body: () => ({ note: 'x' }), refused: () => [[{}, 400], [{ grid_id: 'other' }, 400]] },
  // 4.9 Pilots
  'POST /pilots': { body: () => ({ queue_host: 'h', queue_version: '1', resources: { cpu: 1 } }) },
  'PATCH /pilots/:pilot_id': { body: () => ({ note: 'x' }), refused: () => [[{}, 400], [{ pilot_id: 'other' }, 400]] },
  'PUT /pilots/:pilot_id/tasks': { body: (ids) => ({ tasks: [ids.task_id] }) },
  // 4.10 Service
  // Open to loopback clients; an in-process request has no client address, so it needs an admin token.
  'GET /metrics': { handlerDecides: [{ access: { roles: ['admin'] } }] },
  // §9 The dashboard
  'GET /ui/datasets/:dataset_id': { servesAnyId: true },
  'GET /ui/datasets/:dataset_id/tasks/:task_id': { servesAnyId: true },
}

/** Query parameters by name (`status` by the resource listed); null: any text is taken, nothing to refuse. */
export const QUERY_KINDS: Record<string, QueryKind | 'status' | null> = {
  status: 'status',
  keys: 'keys',
  job_index: 'integer',
  num: 'positive integer',
  order: 'order',
  group: 'boolean',
  last: 'boolean',
  limit: 'positive integer',
  // The id of a task of the route's dataset (the fixture's task).
  after: 'task id',
  job_id: null,
  grid_id: null,
  // Narrows /events to one dataset: an unreadable one is 403, a missing one 404 (never 400).
  dataset_id: null,
  name: null,
}

/** Which status list a `status` key or filter of this route takes: the resource its path names last. */
export function statusResourceOf(path: string): 'dataset' | 'job' | 'task' | undefined {
  const resources = { datasets: 'dataset', jobs: 'job', tasks: 'task' } as const
  const named = path.split('/').filter((segment): segment is keyof typeof resources => segment in resources)
  return named.length > 0 ? resources[named[named.length - 1]!] : undefined
}

/** The query parameters of the route that refuse some values, with what they mean. */
export function queryKinds(route: AppRoute): Record<string, QueryKind> {
  const kinds: Record<string, QueryKind> = {}
  for (const name of Object.keys(route.query?.properties ?? {})) {
    const kind = QUERY_KINDS[name]
    if (kind === 'status') {
      const resource = statusResourceOf(route.path)
      if (resource) kinds[name] = `status:${resource}`
    } else if (kind) kinds[name] = kind
  }
  return kinds
}

// ---- reading the app ----

/** A route's body or query schema: its own, and any a guard or macro added beside it. */
function schemaOf(hooks: Record<string, unknown>, part: 'body' | 'query'): JsonSchema | undefined {
  const standalone = ((hooks.standaloneValidator ?? []) as Record<string, unknown>[]).map((validator) => validator[part])
  const schemas = [hooks[part], ...standalone].filter((schema): schema is JsonSchema => typeof schema === 'object' && schema !== null)
  if (schemas.length <= 1) return schemas[0]
  return {
    type: 'object',
    properties: Object.assign({}, ...schemas.map((schema) => schema.properties)),
    required: schemas.flatMap((schema) => schema.required ?? []),
    additionalProperties: true,
  }
}

let routes: AppRoute[] | undefined

/** Every route of an app built as the tests build it, in the order the app registers them. */
export function appRoutes(): AppRoute[] {
  if (routes) return routes
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-routes-'))
  const db = join(dir, 'iceprod.sqlite')
  copyMigratedDatabase(db)
  const built = createApp(loadConfig({ db }, { ICEPROD_JWT_SECRET: TEST_SECRET, ICEPROD_LOG_LEVEL: 'silent' }))
  try {
    routes = built.app.routes.map((route) => {
      const hooks = route.hooks as Record<string, unknown>
      const label = `${route.method} ${route.path}`
      return {
        method: route.method,
        path: route.path,
        label,
        access: declaredAccess(hooks),
        body: schemaOf(hooks, 'body'),
        query: schemaOf(hooks, 'query'),
        example: ROUTE_EXAMPLES[label] ?? {},
      }
    })
  } finally {
    built.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return routes
}

export const paramNames = (path: string) => [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!)

/**
 * What the tables above lack for the app's routes (or hold for routes that
 * are gone), given the fixture's sample ids: each is a route some test
 * would otherwise leave out or call wrongly.
 */
export function routeProblems(ids: Ids): string[] {
  const problems: string[] = []
  const labels = new Set(appRoutes().map((route) => route.label))
  for (const label of Object.keys(ROUTE_EXAMPLES)) if (!labels.has(label)) problems.push(`ROUTE_EXAMPLES has ${label}, which the app does not have`)
  for (const route of appRoutes()) {
    if (route.access === undefined) problems.push(`${route.label} declares no access rule`)
    if (route.body && !route.example.body) problems.push(`${route.label} takes a body: ROUTE_EXAMPLES needs one it accepts`)
    if (!route.body && route.example.body) problems.push(`${route.label} takes no body, but ROUTE_EXAMPLES gives one`)
    for (const name of paramNames(route.path)) if (!(name in ids)) problems.push(`${route.label}: the fixture has no sample for :${name}`)
    for (const name of Object.keys(route.query?.properties ?? {})) {
      if (!(name in QUERY_KINDS)) problems.push(`${route.label}: QUERY_KINDS does not say what query parameter ${name} means`)
      else if (QUERY_KINDS[name] === 'status' && !statusResourceOf(route.path)) problems.push(`${route.label}: no resource in the path says which statuses ${name} takes`)
    }
    for (const key of Object.keys(route.body?.properties ?? {})) {
      if (key === 'status' && !statusResourceOf(route.path)) problems.push(`${route.label}: no resource in the path says which statuses the key status takes`)
    }
  }
  return problems
}
