/**
 * Query-parameter parsing, strict: a value that does not parse is a 400
 * naming the parameter, never a silent default.
 */
import { fail } from '../errors'
import { checkStatus, type StatusList } from '../status'

/** A `status` query filter: one status or several separated by `|`, each checked (400 `bad status: x`). */
export function parseStatusFilter(list: StatusList, raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined
  return [...new Set(raw.split('|').map((status) => checkStatus(list, status)))]
}

/** A `keys` projection parameter (`a|b|c`); undefined when absent. */
export function parseKeys(keys: string | undefined): string[] | undefined {
  if (keys === undefined) return undefined
  const list = keys.split('|').filter((k) => k.length > 0)
  if (list.length === 0) fail(400, 'bad query parameter: keys')
  return list
}

const INTEGER = /^-?\d+$/

/** An integer query parameter (decimal digits only), 400 naming the parameter otherwise. */
export function queryInteger(name: string, raw: string | undefined, minimum = Number.MIN_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined
  const value = Number(raw)
  if (!INTEGER.test(raw) || !Number.isSafeInteger(value)) fail(400, `query parameter ${name} must be an integer`)
  if (value < minimum) fail(400, `query parameter ${name} must be at least ${minimum}`)
  return value
}

/** A boolean query parameter: `true` or `false` (any case), 400 naming the parameter otherwise. */
export function queryBoolean(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined
  const value = raw.toLowerCase()
  if (value !== 'true' && value !== 'false') fail(400, `query parameter ${name} must be true or false`)
  return value === 'true'
}

/** A query parameter that must be one of `choices`; the first choice when absent. */
export function queryChoice<const T extends string>(name: string, raw: string | undefined, choices: readonly [T, ...T[]]): T {
  if (raw === undefined) return choices[0]
  if (!(choices as readonly string[]).includes(raw)) fail(400, `query parameter ${name} must be ${choices.join(' or ')}`)
  return raw as T
}

/**
 * 400 when a query parameter the route declares (one of `declared`) is given
 * more than once: Elysia keeps only the last value, so
 * `?status=bogus&status=idle` would pass with the bad one unseen.
 */
export function refuseRepeated(url: string, declared: object): void {
  const start = url.indexOf('?')
  if (start < 0 || url.indexOf('&', start) < 0) return
  const seen = new Set<string>()
  for (const name of new URLSearchParams(url.slice(start + 1)).keys()) {
    if (!Object.hasOwn(declared, name)) continue
    if (seen.has(name)) fail(400, `query parameter ${name} given more than once`)
    seen.add(name)
  }
}
