/**
 * The access matrix, written from API.md's route tables (not from the code's
 * own rules): every route is called with every role, with dataset group
 * members (write, read-only, parent path group), a non-member and no token.
 * "Allowed" means the guard let the request through: not 401/403, and not the
 * router's own 404 for a missing route.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestApp, type TestApp } from './support'

type Who = readonly string[] | 'any' | 'public'
interface Route {
  method: string
  path: string
  who: Who
  dataset?: 'read' | 'write'
  body?: () => unknown
  /** The route answers 403 for lack of dataset groups even when the guard allows it. */
  groupsDecide?: 'read' | 'write'
}

const ADMIN = ['admin'] as const
const ASC = ['admin', 'system', 'client'] as const
const ASCP = ['admin', 'system', 'client', 'pilot'] as const
let seq = 0
const unique = (prefix: string) => `${prefix}${++seq}`

// Ids filled in by the fixtures below; paths use :D :J :T :S :L :G (group) :R (grid) :P :U.
const ids: Record<string, string> = {}
const RULE = { read_groups: ['/matrix/ds', '/matrix/reader'], write_groups: ['/matrix/ds'] }

const ROUTES: Route[] = [
  // 4.1 Auth
  { method: 'GET', path: '/roles', who: ADMIN },
  { method: 'PUT', path: '/roles/matrixrole', who: ADMIN, body: () => ({}) },
  { method: 'GET', path: '/roles/user', who: ADMIN },
  { method: 'DELETE', path: '/roles/nosuchrole', who: ADMIN },
  { method: 'GET', path: '/groups', who: ADMIN },
  { method: 'POST', path: '/groups', who: ADMIN, body: () => ({ name: unique('/matrix-new') }) },
  { method: 'GET', path: '/groups/:G', who: ADMIN },
  { method: 'DELETE', path: '/groups/nosuchgroup', who: ADMIN },
  { method: 'GET', path: '/users', who: ADMIN },
  { method: 'POST', path: '/users', who: ADMIN, body: () => ({ username: unique('matrixuser') }) },
  { method: 'GET', path: '/users/:U', who: ADMIN },
  { method: 'DELETE', path: '/users/nosuchuser', who: ADMIN },
  { method: 'GET', path: '/users/:U/groups', who: ADMIN },
  { method: 'POST', path: '/users/:U/groups', who: ADMIN, body: () => ({ group: '/matrix/ds' }) },
  { method: 'PUT', path: '/users/:U/groups', who: ADMIN, body: () => ({ groups: ['/matrix/ds'] }) },
  { method: 'PUT', path: '/users/:U/roles', who: ADMIN, body: () => ({ roles: ['user'] }) },
  { method: 'POST', path: '/ldap', who: 'public', body: () => ({ username: 'someone', password: 'pw' }) },
  { method: 'POST', path: '/create_token', who: ['user', 'admin', 'client'], body: () => ({}) },
  { method: 'PUT', path: '/auths/:D', who: ['admin', 'system'], body: () => RULE },
  { method: 'GET', path: '/auths/:D', who: ADMIN },
  { method: 'GET', path: '/auths/:D/actions/read', who: 'any', groupsDecide: 'read' },
  { method: 'GET', path: '/auths/:D/actions/write', who: 'any', groupsDecide: 'write' },
  // 4.2 Datasets
  { method: 'GET', path: '/datasets', who: ['admin', 'system', 'client', 'user'] },
  {
    method: 'POST',
    path: '/datasets',
    who: ['admin', 'user'],
    body: () => ({ description: 'matrix', jobs_submitted: 1, tasks_submitted: 1, group: '/matrix-other' }),
  },
  { method: 'GET', path: '/datasets/:D', who: ASCP, dataset: 'read' },
  { method: 'PUT', path: '/datasets/:D/status', who: ASC, dataset: 'write', body: () => ({ status: 'processing' }) },
  { method: 'PUT', path: '/datasets/:D/description', who: ADMIN, dataset: 'write', body: () => ({ description: 'd' }) },
  { method: 'PUT', path: '/datasets/:D/jobs_submitted', who: ADMIN, dataset: 'write', body: () => ({ jobs_submitted: 100 }) },
  { method: 'GET', path: '/dataset_summaries/status', who: ['admin', 'system', 'client', 'user'] },
  // 4.3 Config
  { method: 'GET', path: '/datasets/:D/config', who: ['admin', 'client', 'pilot'], dataset: 'read' },
  { method: 'PUT', path: '/datasets/:D/config', who: ADMIN, dataset: 'write', body: () => ({ steps: [] }) },
  { method: 'GET', path: '/config/:D', who: ['admin', 'client', 'pilot'], dataset: 'read' },
  { method: 'PUT', path: '/config/:D', who: ADMIN, dataset: 'write', body: () => ({ steps: [] }) },
  // 4.4 Jobs
  { method: 'POST', path: '/jobs', who: ASC, body: () => ({ dataset_id: ids.D, job_index: 1000 + ++seq }) },
  { method: 'GET', path: '/jobs/:J', who: ASCP },
  { method: 'PATCH', path: '/jobs/:J', who: ASC, body: () => ({ note: 'x' }) },
  { method: 'GET', path: '/datasets/:D/jobs', who: ASC, dataset: 'read' },
  { method: 'GET', path: '/datasets/:D/jobs/:J', who: ASC, dataset: 'read' },
  { method: 'PUT', path: '/datasets/:D/jobs/:J/status', who: ASC, dataset: 'write', body: () => ({ status: 'processing' }) },
  { method: 'GET', path: '/datasets/:D/job_summaries/status', who: ASC, dataset: 'read' },
  { method: 'GET', path: '/datasets/:D/job_counts/status', who: ASC, dataset: 'read' },
  // 4.5 Tasks
  {
    method: 'POST',
    path: '/tasks',
    who: ASC,
    body: () => ({ dataset_id: ids.D, job_id: ids.J, task_index: 1000 + ++seq, name: 'generate', depends: [], requirements: {} }),
  },
  { method: 'GET', path: '/tasks', who: ASC },
  { method: 'GET', path: '/tasks/:T', who: ASCP },
  { method: 'PATCH', path: '/tasks/:T', who: ASCP, body: () => ({ note: 'x' }) },
  { method: 'PUT', path: '/tasks/:T/status', who: ASCP, body: () => ({ status: 'waiting' }) },
  { method: 'GET', path: '/datasets/:D/tasks', who: ASC, dataset: 'read' },
  { method: 'GET', path: '/datasets/:D/tasks/:T', who: ASC, dataset: 'read' },
  { method: 'PUT', path: '/datasets/:D/tasks/:T/status', who: ASC, dataset: 'write', body: () => ({ status: 'waiting' }) },
  { method: 'GET', path: '/datasets/:D/task_summaries/status', who: ASC, dataset: 'read' },
  { method: 'GET', path: '/datasets/:D/task_counts/status', who: ASC, dataset: 'read' },
  { method: 'GET', path: '/datasets/:D/task_counts/name_status', who: ASC, dataset: 'read' },
  { method: 'GET', path: '/datasets/:D/task_stats', who: ASC, dataset: 'read' },
  // 4.5.1 Task lifecycle
  { method: 'POST', path: '/task_actions/queue', who: ['admin', 'client'], body: () => ({}) },
  { method: 'POST', path: '/task_actions/process', who: ['admin', 'pilot'], body: () => ({}) },
  { method: 'POST', path: '/tasks/:T/task_actions/reset', who: ['admin', 'pilot'], body: () => ({}) },
  { method: 'POST', path: '/tasks/:T/task_actions/complete', who: ['admin', 'pilot'], body: () => ({}) },
  // 4.6 Task stats
  { method: 'POST', path: '/tasks/:T/task_stats', who: ['admin', 'client', 'pilot'], body: () => ({ dataset_id: ids.D, cpu: 1 }) },
  { method: 'GET', path: '/datasets/:D/tasks/:T/task_stats', who: ADMIN, dataset: 'read' },
  { method: 'GET', path: '/datasets/:D/tasks/:T/task_stats/:S', who: ADMIN, dataset: 'read' },
  // 4.7 Logs
  { method: 'POST', path: '/logs', who: ['admin', 'pilot'], body: () => ({ data: 'log text' }) },
  { method: 'GET', path: '/logs/:L', who: ADMIN },
  { method: 'POST', path: '/datasets/:D/logs', who: ADMIN, dataset: 'write', body: () => ({ data: 'log text' }) },
  { method: 'GET', path: '/datasets/:D/logs/:L', who: ADMIN, dataset: 'read' },
  { method: 'GET', path: '/datasets/:D/tasks/:T/logs', who: ADMIN, dataset: 'read' },
  // 4.8 Grids
  { method: 'GET', path: '/grids', who: ['admin', 'client'] },
  { method: 'POST', path: '/grids', who: ['admin', 'client'], body: () => ({ host: 'h', queues: {}, version: '1' }) },
  { method: 'GET', path: '/grids/:R', who: ['admin', 'client'] },
  { method: 'PATCH', path: '/grids/:R', who: ['admin', 'client'], body: () => ({ note: 'x' }) },
  // 4.9 Pilots
  { method: 'GET', path: '/pilots', who: ASC },
  { method: 'POST', path: '/pilots', who: ['admin', 'client'], body: () => ({ queue_host: 'h', queue_version: '1', resources: {} }) },
  { method: 'GET', path: '/pilots/:P', who: ['admin', 'client', 'pilot'] },
  { method: 'PATCH', path: '/pilots/:P', who: ['admin', 'client', 'pilot'], body: () => ({ note: 'x' }) },
  { method: 'DELETE', path: '/pilots/nosuchpilot', who: ['admin', 'client', 'pilot'] },
  { method: 'PUT', path: '/pilots/:P/tasks', who: ['admin', 'client', 'pilot'], body: () => ({ tasks: [] }) },
  // 4.10 Service
  { method: 'GET', path: '/', who: 'public' },
  { method: 'GET', path: '/healthz', who: 'public' },
  { method: 'GET', path: '/openapi', who: 'public' },
  { method: 'GET', path: '/openapi/json', who: 'public' },
]

const ROLES = ['user', 'admin', 'system', 'client', 'pilot', 'anonymous']
/** Dataset members: anonymous tokens whose groups alone give access. */
const MEMBERS: { name: string; groups: string[]; read: boolean; write: boolean }[] = [
  { name: 'writer', groups: ['/matrix/ds'], read: true, write: true },
  { name: 'parent path group', groups: ['/matrix'], read: true, write: true },
  { name: 'reader', groups: ['/matrix/reader'], read: true, write: false },
  { name: 'non-member', groups: ['/matrix-other'], read: false, write: false },
]

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
  for (const name of ['/matrix', '/matrix/ds', '/matrix/reader', '/matrix-other']) {
    expect((await t.call('POST', '/groups', { body: { name } })).status).toBe(201)
  }
  const ds = await t.call('POST', '/datasets', { body: { description: 'm', jobs_submitted: 10, tasks_submitted: 10, group: '/matrix/ds' } })
  expect(ds.status).toBe(201)
  ids.D = ds.body.result.split('/').pop()
  expect((await t.call('PUT', `/auths/${ids.D}`, { body: RULE })).status).toBe(200)
  ids.J = (await t.call('POST', '/jobs', { body: { dataset_id: ids.D, job_index: 0 } })).body.result
  ids.T = (await t.call('POST', '/tasks', { body: { dataset_id: ids.D, job_id: ids.J, task_index: 0, name: 'generate', depends: [], requirements: {} } })).body.result
  ids.S = (await t.call('POST', `/tasks/${ids.T}/task_stats`, { body: { dataset_id: ids.D } })).body.result
  ids.L = (await t.call('POST', `/datasets/${ids.D}/logs`, { body: { data: 'x', task_id: ids.T } })).body.result
  ids.R = (await t.call('POST', '/grids', { body: { host: 'h', queues: {}, version: '1' } })).body.result
  ids.P = (await t.call('POST', '/pilots', { body: { queue_host: 'h', queue_version: '1', resources: {} } })).body.result
  ids.G = (await t.call('POST', '/groups', { body: { name: '/matrix-fixture' } })).body.result.split('/').pop()
  ids.U = (await t.call('POST', '/users', { body: { username: 'matrix-fixture' } })).body.result.split('/').pop()
  for (const key of ['D', 'J', 'T', 'S', 'L', 'G', 'R', 'P', 'U']) expect(ids[key]).toMatch(/^[0-9a-f]{32}$/)
})
afterAll(() => t.close())

const pathOf = (route: Route) => route.path.replace(/:([A-Z])/g, (_, key: string) => ids[key]!)

async function outcome(route: Route, token: string | null): Promise<'allowed' | '401' | '403'> {
  const r = await t.call(route.method, pathOf(route), { token, body: route.body?.() })
  // 501 is /ldap's documented answer when LDAP is not configured; any other 5xx is a fault.
  if (r.status >= 500) expect(`${route.method} ${route.path} ${r.status}`).toBe(`POST /ldap 501`)
  if (r.status === 401) return '401'
  if (r.status === 403) return '403'
  // The router's own 404 means the route does not exist at all: never "allowed".
  expect(`${route.method} ${route.path}: ${r.status} ${r.body?.error}`).not.toBe(`${route.method} ${route.path}: 404 not found`)
  return 'allowed'
}

describe('access matrix (API.md)', () => {
  for (const route of ROUTES) {
    test(`${route.method} ${route.path}`, async () => {
      const got: Record<string, string> = {}
      const want: Record<string, string> = {}
      for (const role of ROLES) {
        const token = await t.token(role, { groups: ['/matrix-other'] })
        got[role] = await outcome(route, token)
        const byRole = route.who === 'public' || route.who === 'any' || route.who.includes(role)
        // The actions routes answer from groups alone; these tokens hold no group of the dataset.
        want[role] = byRole && !route.groupsDecide ? 'allowed' : '403'
      }
      for (const member of MEMBERS) {
        const token = await t.token('anonymous', { groups: member.groups })
        got[member.name] = await outcome(route, token)
        const mode = route.dataset ?? route.groupsDecide
        const byGroup = mode === 'read' ? member.read : mode === 'write' ? member.write : false
        const byRole = route.who === 'public' || (route.who === 'any' && !route.groupsDecide)
        want[member.name] = byRole || byGroup ? 'allowed' : '403'
      }
      got['no token'] = await outcome(route, null)
      want['no token'] = route.who === 'public' ? 'allowed' : '401'
      expect(got).toEqual(want)
    })
  }
})
