/**
 * The access guard: an Elysia macro every route declares its rule with,
 *   { access: { roles: clients, dataset: 'read' } }   (role sets: see roles.ts)
 * It checks the path parameters (404, see http/path-params.ts), authenticates
 * the bearer token (401) and decides allow / 403 / 404 before the body is
 * validated or the handler runs. Being every route's first step, it also
 * refuses a query parameter that the route's `query` schema declares and the
 * request repeats (400, see http/query.ts): no route needs a hook of its own
 * for that.
 */
import { Elysia } from 'elysia'
import { fail } from '../errors'
import { refuseUnroutableParams } from '../http/path-params'
import { refuseRepeated } from '../http/query'
import { adminOnly, type Role } from './roles'
import { bearerToken, type Auth, type TokenService } from './tokens'

export type DatasetMode = 'read' | 'write'

export type AccessRule =
  | 'public'
  | {
      /** Roles that may call the route; 'any' for any valid token. */
      roles: readonly Role[] | 'any'
      /** Dataset access (from the token's groups) that also allows the route. */
      dataset?: DatasetMode
    }

export interface DatasetRule {
  read_groups: string[]
  write_groups: string[]
}

/** What the guard needs to know about datasets. */
export interface DatasetRules {
  exists(datasetId: string): boolean
  rule(datasetId: string): DatasetRule | undefined
}

/** Group `held` grants group `required` when equal, or when `required` lies under the path `held`. */
export function grants(held: string, required: string): boolean {
  if (held === required) return true
  if (!held.startsWith('/')) return false
  const prefix = held.endsWith('/') ? held : held + '/'
  return required.startsWith(prefix)
}

export function hasDatasetAccess(groups: readonly string[], rule: DatasetRule | undefined, mode: DatasetMode): boolean {
  if (!rule) return false
  const required = mode === 'read' ? rule.read_groups : rule.write_groups
  return groups.some((held) => required.some((r) => grants(held, r)))
}

/** Who may write a dataset: the rule of every operator action (API.md §7.2), and what `/auths/<d>/actions/write` answers. */
export const DATASET_WRITERS = { roles: adminOnly, dataset: 'write' } as const satisfies AccessRule

/**
 * What `rule` gives `auth` for `datasetId` (a route's path parameter, if it has one):
 * a role of the rule passes, on a dataset that exists ('missing' otherwise); else the dataset's groups decide.
 */
export function decide(rule: Exclude<AccessRule, 'public'>, auth: Auth, datasets: DatasetRules, datasetId: string | undefined): 'allowed' | 'missing' | 'refused' {
  if (rule.roles === 'any') return 'allowed'
  const dataset = rule.dataset ? datasetId : undefined
  if ((rule.roles as readonly string[]).includes(auth.role)) return dataset !== undefined && !datasets.exists(dataset) ? 'missing' : 'allowed'
  return dataset !== undefined && hasDatasetAccess(auth.groups, datasets.rule(dataset), rule.dataset!) ? 'allowed' : 'refused'
}

/** The bearer of the request's token: 401 when there is none or it fails verification. */
export function authenticate(tokens: TokenService, header: string | null): Auth | Promise<Auth> {
  const token = bearerToken(header)
  if (!token) fail(401, header ? 'malformed Authorization header' : 'missing Authorization header')
  // A token verified before answers without an await; only a new one is verified.
  return tokens.cached(token) ?? tokens.verify(token).then((auth) => auth ?? fail(401, 'invalid token'))
}

/** What the guard reads of a route's options when the route is added. */
interface RouteOptions {
  query?: { properties?: object }
}

/** Where the guard marks when a route's handling starts (see observability/requests.ts). */
interface Started {
  startedAt?: number
}

/**
 * With `markStart`, every route's first step (its guard, public or not) also
 * marks on the context when the route's handling started, for the request log
 * and metrics: one hook fewer per request than a global one. A request with
 * a body was marked already, before its body was read.
 */
export function accessGuard(tokens: TokenService, datasets: DatasetRules, markStart = false) {
  async function authorize(rule: Exclude<AccessRule, 'public'>, request: Request, params: Record<string, string> | undefined): Promise<Auth> {
    // Every route with path parameters declares an access rule other than public.
    if (params) refuseUnroutableParams(params)
    const pending = authenticate(tokens, request.headers.get('authorization'))
    const auth = pending instanceof Promise ? await pending : pending
    const decision = decide(rule, auth, datasets, params?.dataset_id)
    if (decision === 'missing') fail(404, `dataset ${params?.dataset_id} not found`)
    if (decision === 'refused') fail(403, 'not allowed')
    return auth
  }

  return new Elysia({ name: 'access-guard' }).macro({
    access(rule: AccessRule) {
      // The query parameters the route declares, read when the route is added.
      let declared: object | undefined
      const introspect = (route: unknown) => {
        declared = (route as RouteOptions).query?.properties
      }
      // The context is never passed on whole: Elysia reads hooks' source to
      // decide what each request must prepare.
      if (rule === 'public') {
        // A public route gets its hook even when it has nothing to mark, so that its rule can be read back.
        return {
          introspect,
          transform: declare(rule, (ctx: { request: Request }) => {
            if (markStart) (ctx as Started).startedAt ??= performance.now()
            if (declared !== undefined) refuseRepeated(ctx.request.url, declared)
          }),
        }
      }
      return {
        introspect,
        transform: declare(rule, async (ctx: { request: Request; params: unknown }) => {
          if (markStart) (ctx as Started).startedAt ??= performance.now()
          ;(ctx as unknown as { auth: Auth }).auth = await authorize(rule, ctx.request, ctx.params as Record<string, string> | undefined)
          if (declared !== undefined) refuseRepeated(ctx.request.url, declared)
        }),
        resolve(ctx) {
          return { auth: (ctx as unknown as { auth: Auth }).auth }
        },
      }
    },
  })
}

/** Each route's rule, by the transform hook the macro gave the route. */
const declaredRules = new WeakMap<object, AccessRule>()

function declare<Hook extends object>(rule: AccessRule, hook: Hook): Hook {
  declaredRules.set(hook, rule)
  return hook
}

/**
 * The rule a route declared, read from its hooks (an entry of `app.routes`):
 * the access tests take every route's rule from the app this way.
 */
export function declaredAccess(hooks: { transform?: unknown }): AccessRule | undefined {
  const transforms = Array.isArray(hooks.transform) ? hooks.transform : [hooks.transform]
  for (const hook of transforms as ({ fn?: object } | object | undefined)[]) {
    const fn = hook && 'fn' in hook ? hook.fn : hook
    const rule = fn && declaredRules.get(fn)
    if (rule) return rule
  }
  return undefined
}

export type AccessGuard = ReturnType<typeof accessGuard>
