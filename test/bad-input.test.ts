/**
 * Malformed bodies on every JSON route of API.md: text that is not JSON,
 * truncated JSON, bytes that are not UTF-8, values that are not objects,
 * each required key missing, each typed key of a wrong type, bodies refused
 * for what they say, long strings and odd unicode. Each must be answered with
 * a 4xx whose body is exactly {code, error}, and must leave the database
 * exactly as it was. Tokens hold roles the route allows, so that the body's
 * validation is what answers, not the access guard.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { t, ValidationError } from 'elysia'
import fc from 'fast-check'
import { toErrorResponse } from '../src/http/errors'
import {
  acceptsStrings,
  BODY_ROUTES,
  jsonText,
  label,
  oddText,
  pathOf,
  roleOf,
  routeAndRole,
  send,
  refusalSuite,
  tokenFor,
  type Expectation,
  type JsonBody,
  type Kind,
  type Route,
  type Sent,
  says,
  type BodyRoute,
} from './bad-input-support'

// These tests start real servers and run many cases: more than the 5 s default.
setDefaultTimeout(60_000)

const suite = refusalSuite()
const { expectRefused } = suite

/** A request to `route` with `body` (text as is, anything else as JSON) and an allowed token. */
const request = (route: Route, body: unknown, role?: string): Sent => ({ ...suite.addressed(route, role), body: typeof body === 'string' ? body : jsonText(body) })

const typedKeys = (body: JsonBody): [string, Kind][] => [...Object.entries(body.required), ...Object.entries(body.optional ?? {})]
const names = (key: string): Expectation => ({ message: (error) => error.includes(key), messageDescription: `name the key ${key}` })
const NOT_JSON = says('body is not valid JSON')
const NOT_OBJECT = says('body must be a JSON object')

describe('keys', () => {
  test('each required key missing: 400 "missing key: <key>"', async () => {
    for (const route of BODY_ROUTES) {
      for (const key of Object.keys(route.body.required)) {
        const { [key]: _, ...body } = route.body.valid(suite.f.ids)
        await expectRefused(request(route, body), { status: 400, ...says(`missing key: ${key}`) })
      }
    }
  })

  for (const route of BODY_ROUTES.filter((r) => typedKeys(r.body).length > 0)) {
    test(`${label(route)}: each typed key of a wrong type or out of range is 400 naming the key`, async () => {
      const cases = fc.oneof(...typedKeys(route.body).map(([key, kind]) => fc.tuple(fc.constant(key), kind.wrong)))
      await fc.assert(
        fc.asyncProperty(cases, roleOf(route), async ([key, value], role) => {
          await expectRefused(request(route, { ...route.body.valid(suite.f.ids), [key]: value }, role), { status: 400, ...names(key) })
        }),
        { numRuns: 40 },
      )
    })
  }

  test('an object holding a "toString" key where a string belongs is 400 naming the key (Elysia\'s message for it used to throw: 500)', async () => {
    let cases = 0
    for (const route of BODY_ROUTES) {
      for (const [key] of typedKeys(route.body).filter(([, k]) => acceptsStrings(k))) {
        for (const value of [{ toString: '' }, { toString: { toString: 1 }, valueOf: 2 }]) {
          cases++
          await expectRefused(request(route, { ...route.body.valid(suite.f.ids), [key]: value }), { status: 400, ...names(key) })
        }
      }
    }
    expect(cases).toBeGreaterThanOrEqual(40)
  })

  test('a status key holding a string that is no status: 400 "bad status: <value>"', async () => {
    const routes = BODY_ROUTES.filter((route) => typedKeys(route.body).some(([, kind]) => kind.badStrings))
    expect(routes.length).toBeGreaterThanOrEqual(6)
    const cases = fc.constantFrom(...routes).chain((route) => {
      const [key, kind] = typedKeys(route.body).find(([, k]) => k.badStrings)!
      return fc.tuple(fc.constant(route), fc.constant(key), kind.badStrings!, roleOf(route))
    })
    await fc.assert(
      fc.asyncProperty(cases, async ([route, key, value, role]) => {
        // A lone surrogate is refused before the status is read, naming the key.
        const message = value.isWellFormed() ? says(`bad status: ${value}`) : names(key)
        await expectRefused(request(route, { ...route.body.valid(suite.f.ids), [key]: value }, role), { status: 400, ...message })
      }),
      { numRuns: 150 },
    )
  })

  test('bodies of the right shape refused for what they say, with the status API.md gives', async () => {
    let cases = 0
    for (const route of BODY_ROUTES) {
      for (const [body, status] of route.body.refused?.(suite.f.ids) ?? []) {
        cases++
        await expectRefused(request(route, body), { status })
      }
    }
    expect(cases).toBeGreaterThanOrEqual(25)
  })
})

describe('text that is not a JSON object', () => {
  const GARBAGE = [
    '{', '}', '{"a":1', '{"a":1,}', "{'a':1}", '{a:1}', '{"a":NaN}', '{"a":Infinity}', '{"a":undefined}', '{"a":01}',
    '{"a":1}}', '{"a":1} x', '{"a":"\u0000"}', '{"a":"tab\there"}', '{"a":"\\x41"}', '{"a":"\\ud800', '[', 'nul', 'tru',
    ' ', '\n', '//{}', '{"a":1}\u0000', '\u0000', '{"a" 1}', '{"a":1 "b":2}', '{"__proto__":}',
  ]

  test('each route: fixed pieces of garbage are 400 "body is not valid JSON"', async () => {
    for (const route of BODY_ROUTES) {
      for (const text of GARBAGE) await expectRefused(request(route, text), { status: 400, ...NOT_JSON })
    }
  })

  test('random text that JSON.parse refuses is 400 "body is not valid JSON"', async () => {
    const notJson = fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }).filter((text) => {
      try {
        JSON.parse(text)
        return false
      } catch {
        return true
      }
    })
    await fc.assert(
      fc.asyncProperty(routeAndRole, notJson, async ([route, role], text) => {
        // Lone surrogates in the text become U+FFFD on the wire (UTF-8), still not JSON.
        await expectRefused(request(route, text, role), { status: 400, ...NOT_JSON })
      }),
      { numRuns: 200 },
    )
  })

  test('a valid body cut short anywhere is 400 "body is not valid JSON"', async () => {
    const cases = routeAndRole.chain(([route, role]) => {
      const text = jsonText(route.body.valid(suite.f.ids))
      return fc.tuple(fc.constant(route), fc.constant(role), fc.constant(text), fc.integer({ min: 1, max: text.length - 1 }))
    })
    await fc.assert(
      fc.asyncProperty(cases, async ([route, role, text, cut]) => {
        await expectRefused(request(route, text.slice(0, cut), role), { status: 400, ...NOT_JSON })
      }),
      { numRuns: 200 },
    )
  })

  test('bytes that are not UTF-8 are 400 "body is not valid JSON"', async () => {
    const encoder = new TextEncoder()
    const badBytes = [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80]]
    for (const route of BODY_ROUTES) {
      for (const bytes of badBytes) {
        const [head, tail] = withKey(route.body.valid(suite.f.ids), 'x', '"BAD"').split('BAD')
        const body = new Uint8Array([...encoder.encode(head), ...bytes, ...encoder.encode(tail)])
        await expectRefused({ ...request(route, ''), body }, { status: 400, ...NOT_JSON })
      }
    }
  })

  test('each route: an array, a string, a number, null and a boolean are 400 "body must be a JSON object"', async () => {
    for (const route of BODY_ROUTES) {
      for (const value of [[], [route.body.valid(suite.f.ids)], 'text', 0, -1.5, null, true, false]) {
        await expectRefused(request(route, jsonText(value)), { status: 400, ...NOT_OBJECT })
      }
    }
  })

  test('any JSON value that is not an object is 400 "body must be a JSON object"', async () => {
    const notObject = fc.jsonValue({ maxDepth: 3 }).filter((value) => value === null || typeof value !== 'object' || Array.isArray(value))
    await fc.assert(
      fc.asyncProperty(routeAndRole, notObject, async ([route, role], value) => {
        const text = jsonText(value)
        // A JSON string holding a lone surrogate is still JSON, escaped as \u.
        await expectRefused(request(route, text, role), { status: 400, ...NOT_OBJECT })
      }),
      { numRuns: 200 },
    )
  })
})

describe('deep nesting', () => {
  const LEVELS = 10_000
  const arrays = (n: number, inner = '') => '['.repeat(n) + inner + ']'.repeat(n)
  const objects = (n: number, inner = '1') => '{"a":'.repeat(n) + inner + '}'.repeat(n)

  test(`each route: ${LEVELS} levels, as the body or inside it, are 400`, async () => {
    for (const route of BODY_ROUTES) {
      const valid = route.body.valid(suite.f.ids)
      await expectRefused(request(route, arrays(LEVELS)), { status: 400, ...NOT_OBJECT })
      await expectRefused(request(route, objects(LEVELS)), { status: 400, ...names('nested') })
      await expectRefused(request(route, withKey(valid, 'deep', arrays(LEVELS))), { status: 400, ...names('nested') })
      await expectRefused(request(route, withKey(valid, 'deep', objects(LEVELS, '[]'))), { status: 400, ...names('nested') })
    }
  })

  test('any mix of arrays and objects deeper than 512 levels is 400', async () => {
    const nesting = fc.array(fc.boolean(), { minLength: 513, maxLength: 3000 })
    await fc.assert(
      fc.asyncProperty(routeAndRole, nesting, async ([route, role], levels) => {
        // The body is level 1: one `{"deep":` plus the generated levels.
        let inner = '0'
        for (const isArray of levels) inner = isArray ? `[${inner}]` : `{"k":${inner}}`
        const body = withKey(route.body.valid(suite.f.ids), 'deep', inner)
        await expectRefused(request(route, body, role), { status: 400, ...names('nested') })
      }),
      { numRuns: 50 },
    )
  })
})

describe('long strings and odd unicode', () => {
  test('each route: a body missing a key (or with a wrong one) stays refused with long keys, long values and long digit strings', async () => {
    for (const route of BODY_ROUTES) {
      const long = 'x'.repeat(20_000)
      const [key, kind] = typedKeys(route.body)[0] ?? []
      const extra = { [long]: long }
      if (key === undefined) {
        // Only the config routes, which take any object: long keys and values beside a lone surrogate.
        await expectRefused(request(route, { ...extra, note: `${long}\ud800` }), { status: 400, ...names('key note') })
        continue
      }
      const broken = key in route.body.required ? (({ [key]: _, ...rest }) => rest)(route.body.valid(suite.f.ids)) : { ...route.body.valid(suite.f.ids), [key]: acceptsStrings(kind!) ? 5 : long }
      await expectRefused(request(route, { ...broken, ...extra }), { status: 400, ...names(key) })
      if (!acceptsStrings(kind!)) await expectRefused(request(route, { ...route.body.valid(suite.f.ids), [key]: '7'.repeat(20_000) }), { status: 400, ...names(key) })
    }
  })

  test('odd unicode in keys and values does not change why a broken body is refused', async () => {
    const cases = routeAndRole.chain(([route, role]) => {
      // An odd key must not restore a key the case removed.
      const oddKey = oddText().filter((key) => !(key in route.body.valid(suite.f.ids)) && !typedKeys(route.body).some(([k]) => k === key))
      return fc.tuple(fc.constant(route), fc.constant(role), oddKey, oddText())
    })
    await fc.assert(
      fc.asyncProperty(cases, async ([route, role, oddKey, oddValue]) => {
        // A config has no key that can be wrong (any object is one): it is broken by a lone surrogate.
        const [key, kind] = typedKeys(route.body)[0] ?? ['lone surrogate', undefined]
        const valid = route.body.valid(suite.f.ids)
        const broken = kind === undefined
          ? { ...valid, note: '\ud800' }
          : key in route.body.required
            ? (({ [key]: _, ...rest }) => rest)(valid)
            : { ...valid, [key]: acceptsStrings(kind) ? 5 : 'x' }
        const body = { ...broken, [oddKey]: oddValue }
        // A lone surrogate anywhere is refused first, naming where it is.
        const wellFormed = kind !== undefined && oddKey.isWellFormed() && oddValue.isWellFormed()
        await expectRefused(request(route, body, role), { status: 400, ...(wellFormed ? names(key) : names('lone surrogate')) })
      }),
      { numRuns: 200 },
    )
  })

  test('each route: a lone surrogate in any string of a valid body is 400 naming the key, and nothing is stored', async () => {
    for (const route of BODY_ROUTES) {
      for (const surrogate of ['\ud800', 'abc\udfffdef', '\ud83d']) {
        await expectRefused(request(route, { ...route.body.valid(suite.f.ids), note: surrogate }), { status: 400, ...names('key note') })
        await expectRefused(request(route, { ...route.body.valid(suite.f.ids), nested: { list: ['ok', surrogate] } }), { status: 400, ...names('key nested.list.1') })
        await expectRefused(request(route, { ...route.body.valid(suite.f.ids), [`k${surrogate}`]: 1 }), { status: 400, ...names('lone surrogate') })
      }
    }
  })
})

/** JSON text of `body` with one more key, whose value is given as JSON text. */
function withKey(body: Record<string, unknown>, key: string, valueText: string): string {
  const rest = jsonText(body).slice(1)
  return `{${jsonText(key)}:${valueText}${rest === '}' ? '' : ','}${rest}`
}

describe('the error model', () => {
  test('a response that fails its own schema is a fault (500, no detail), not a 400 blaming the client', async () => {
    const faults: unknown[] = []
    const report = (error: unknown) => faults.push(error)
    const response = toErrorResponse('VALIDATION', new ValidationError('response', t.Object({ a: t.String() }), { a: 1 }), report)
    expect([response.status, await response.json()]).toEqual([500, { code: 500, error: 'internal server error' }])
    expect(faults).toHaveLength(1)
    const request = toErrorResponse('VALIDATION', new ValidationError('body', t.Object({ a: t.String() }), { a: 1 }), report)
    expect([request.status, await request.json()]).toEqual([400, { code: 400, error: 'key a must be a string' }])
    expect(faults).toHaveLength(1) // a client's mistake is not a fault
  })
})

// Last, on the fixture every case shares: its writes come after all the cases that compare the database with how the fixture started.
describe('the bodies the cases start from', () => {
  test('every route accepts its valid body (so that each case above is refused for the one thing it breaks)', async () => {
    const wrong: string[] = []
    for (const route of BODY_ROUTES) {
      const answer = await send(suite.f, { method: route.method, path: pathOf(route, suite.f.ids), token: tokenFor(suite.f, route), body: jsonText(route.body.valid(suite.f.ids)) })
      const expected = route.body.validStatuses ?? []
      if (!(answer.status < 300 || expected.includes(answer.status))) wrong.push(`${label(route)}: ${answer.status} ${answer.text.slice(0, 200)}`)
    }
    expect(wrong).toEqual([])
  })
})
