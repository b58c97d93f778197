/**
 * The access matrix: every route of the app (routes.ts reads them and their
 * declared rules from the app itself) is called with every role, with
 * dataset group members (write, read-only, parent path group), a non-member
 * and no token, and must let through exactly the callers its rule names.
 * "Allowed" means the guard let the request through: not 401/403, and not
 * the router's own 404 for a missing route.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { appRoutes, MEMBERS, ROLES, routeProblems, startRouteFixture, type AppRoute, type ExpectedAccess, type Ids, type RouteFixture } from './routes'

let f: RouteFixture
beforeAll(async () => {
  f = await startRouteFixture()
})
afterAll(() => f.t.close())

describe('the route table', () => {
  test('every route of the app declares its rule, and the tests have what they need to call it', () => {
    expect(routeProblems(f.ids)).toEqual([])
  })
})

interface Case {
  route: AppRoute
  name: string
  access: ExpectedAccess
  /** Path parameters that differ from the fixture's samples. */
  params: Ids
}

/** One case per route, or one per set of path parameters where the handler decides. */
const cases: Case[] = appRoutes()
  .filter((route) => route.access !== undefined)
  .flatMap((route) =>
    (route.example.handlerDecides ?? [{ access: route.access! }]).map(({ params = {}, access }) => ({
      route,
      name: Object.keys(params).length > 0 ? `${route.label} (${new URLSearchParams(params)})` : route.label,
      access,
      params,
    })),
  )

type Outcome = 'allowed' | '401' | '403'

/** What the rule gives a token of `role` holding groups of no dataset, or a dataset member, or no token. */
function expected(access: ExpectedAccess, caller: { role: string } | { member: (typeof MEMBERS)[number] } | 'no token'): Outcome {
  if (access === 'public') return 'allowed'
  if (caller === 'no token') return '401'
  if ('groups' in access) return 'member' in caller && caller.member[access.groups] ? 'allowed' : '403'
  const role = 'role' in caller ? caller.role : 'anonymous'
  if (access.roles === 'any' || (access.roles as readonly string[]).includes(role)) return 'allowed'
  return 'member' in caller && access.dataset !== undefined && caller.member[access.dataset] ? 'allowed' : '403'
}

/**
 * The path to call: the fixture's samples, except that a DELETE names
 * nothing that exists (the guard decides before the handler looks), so that
 * the fixture stays whole for the routes after it.
 */
function pathOf(c: Case): string {
  const value = (name: string) =>
    c.params[name] ?? (c.route.method === 'DELETE' && name !== 'dataset_id' ? `nosuch_${name}` : f.ids[name]!)
  return c.route.path.replace(/:(\w+)/g, (_, name: string) => value(name))
}

async function outcome(c: Case, token: string | null): Promise<Outcome> {
  const r = await f.t.call(c.route.method, pathOf(c), { token, body: c.route.body ? c.route.example.body?.(f.ids) : undefined })
  // A 5xx is a fault unless it is what the fixture gets by design (e.g. /ldap without LDAP configured: 501).
  const fault = r.status >= 500 && !(c.route.example.validStatuses ?? []).includes(r.status)
  expect({ route: c.name, fault: fault ? `${r.status} ${r.text}` : 'none' }).toEqual({ route: c.name, fault: 'none' })
  if (r.status === 401) return '401'
  if (r.status === 403) return '403'
  // The router's own 404 means the route does not exist at all: never "allowed".
  expect(`${c.name}: ${r.status} ${r.body?.error}`).not.toBe(`${c.name}: 404 not found`)
  return 'allowed'
}

describe('access matrix', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const got: Record<string, Outcome> = {}
      const want: Record<string, Outcome> = {}
      for (const role of ROLES) {
        got[role] = await outcome(c, f.tokens[role]!)
        want[role] = expected(c.access, { role })
      }
      for (const member of MEMBERS) {
        got[member.name] = await outcome(c, f.tokens[member.token]!)
        want[member.name] = expected(c.access, { member })
      }
      got['no token'] = await outcome(c, null)
      want['no token'] = expected(c.access, 'no token')
      expect(got).toEqual(want)
    })
  }
})
