import { fail } from '../errors'

/** API.md §1: path parameters are opaque strings of these characters. */
const PATH_PARAM = /^[A-Za-z0-9_]+$/

/**
 * A path whose parameter holds any other character matches no route (404, the
 * answer of a path that has no route at all), as in IceProd, whose routes
 * match parameters with `\w+`. Called before the token or the body is looked
 * at: one test per parameter, on the hot path of every request that has one.
 */
export function refuseUnroutableParams(params: Record<string, unknown>): void {
  for (const name in params) {
    // A parameter whose percent-encoding does not decode arrives as null, not a string.
    const value = params[name]
    if (typeof value !== 'string' || !PATH_PARAM.test(value)) fail(404, 'not found')
  }
}
