/**
 * Malformed path and query parameters on every route of API.md that has
 * them. A path parameter outside `[A-Za-z0-9_]+` matches no route (404, with or
 * without a token, before the body is read);
 * `status`, `keys`, `job_index`, `num`, `limit`, `after`, `order`, `group` and `last` refuse
 * values they cannot mean (400). Well-formed ids of nothing are a 4xx too.
 * Every refusal is exactly {code, error} and writes nothing, bodies and
 * tokens being valid so that the parameter is what is refused.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import fc from 'fast-check'
import { DATASET_STATUSES, JOB_STATUSES, TASK_STATUSES } from '../src/status'
import {
  jsonText,
  oddText,
  PARAM_ROUTES,
  paramNames,
  pathOf,
  QUERY_ROUTES,
  refusalSuite,
  tokenFor,
  type Expectation,
  type QueryKind,
  type Route,
  type Sent,
  says,
} from './bad-input-support'

// These tests start real servers and run many cases: more than the 5 s default.
setDefaultTimeout(60_000)

const suite = refusalSuite()
const { expectRefused } = suite


/** The route called with some path parameters replaced (values already URL-encoded), a valid body and an allowed token. */
function call(route: Route, values: Record<string, string>, role?: string, query = ''): Sent {
  const addressed = suite.addressed(route, role, values)
  return { ...addressed, path: addressed.path + query, body: route.body ? jsonText(route.body.valid(suite.f.ids)) : undefined }
}

const PATH_PARAMETER = /^[A-Za-z0-9_]+$/
/** What a path that matches no route gets: the same as a path no route has. */
const UNROUTABLE = { status: 404, ...says('not found') }
/** A route with one of its path parameters. */
const routeAndParam = fc
  .constantFrom(...PARAM_ROUTES)
  .chain((route) => fc.tuple(fc.constant(route), fc.constantFrom(...paramNames(route)), fc.constantFrom(...route.roles)))

describe('path parameters', () => {
  // Sent URL-encoded; the server sees them decoded.
  const BAD = ['a.b', 'a-b', 'a b', 'a/b', 'a\\b', 'a\u0000b', 'ü', '😀', "a'b", 'a"b', '<x>', 'a;b', 'a,b', '*', '~', 'a+b', 'a=b', 'a?b', 'a#b', 'a%b', '\u202eab', 'x'.repeat(5000) + '.']

  test('each route and parameter: characters outside [A-Za-z0-9_] match no route: 404 "not found"', async () => {
    for (const route of PARAM_ROUTES) {
      for (const name of paramNames(route)) {
        for (const value of BAD) {
          await expectRefused(call(route, { [name]: encodeURIComponent(value) }), UNROUTABLE)
        }
      }
    }
  })

  test('each route: a bad path parameter is 404 whatever comes with it: no token, a bad token, a broken or oversized body', async () => {
    for (const route of PARAM_ROUTES) {
      for (const name of paramNames(route)) {
        const sent = call(route, { [name]: 'a.b' })
        await expectRefused({ ...sent, token: null }, UNROUTABLE)
        await expectRefused({ ...sent, token: 'not.a.token' }, UNROUTABLE)
        if (route.body) {
          await expectRefused({ ...sent, body: '{"broken"' }, UNROUTABLE)
          await expectRefused({ ...sent, body: undefined }, UNROUTABLE)
          await expectRefused({ ...sent, headers: { 'content-length': String(2 ** 40) } }, UNROUTABLE)
        }
      }
    }
  })

  test('any text with a character outside [A-Za-z0-9_] is 404', async () => {
    const text = fc.oneof(fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }), oddText())
    // `.` and `..` alone are path segments the URL resolves away; lone surrogates cannot be URL-encoded (see the test below).
    const bad = text.filter((value) => value.length > 0 && value.isWellFormed() && !PATH_PARAMETER.test(value) && !/^\.+$/.test(value))
    await fc.assert(
      fc.asyncProperty(routeAndParam, bad, async ([route, name, role], value) => {
        await expectRefused(call(route, { [name]: encodeURIComponent(value) }, role), UNROUTABLE)
      }),
      { numRuns: 300 },
    )
  })

  // A parameter whose percent-encoding cannot be decoded arrives as null: it
  // must be refused rather than tested as the string "null".
  test('percent-encoding that does not decode (bad escapes, bytes that are not UTF-8, lone surrogates) is 404', async () => {
    for (const route of PARAM_ROUTES) {
      for (const name of paramNames(route)) {
        for (const raw of ['%ZZ', '%', 'a%2', '%FF', '%C0%AF', '%ED%A0%80']) {
          await expectRefused(call(route, { [name]: raw }), UNROUTABLE)
        }
      }
    }
  })

  test('well-formed ids of nothing are a 4xx and write nothing, valid body or not', async () => {
    const unknownId = fc.stringMatching(/^[A-Za-z0-9_]{1,40}$/)
    const cases = routeAndParam.filter(([route]) => !route.createsAtPath && !route.servesAnyId)
    await fc.assert(
      fc.asyncProperty(cases, unknownId, async ([route, name, role], id) => {
        fc.pre(!Object.values(suite.f.ids).includes(id))
        await expectRefused(call(route, { [name]: id }, role))
      }),
      { numRuns: 300 },
    )
  })

  test('each route and parameter: a very long id of nothing is a 4xx and writes nothing', async () => {
    for (const route of PARAM_ROUTES.filter((r) => !r.createsAtPath && !r.servesAnyId)) {
      for (const name of paramNames(route)) await expectRefused(call(route, { [name]: 'a'.repeat(20_000) }))
    }
  })
})

describe('query parameters', () => {
  const STATUS_LISTS: Record<string, readonly string[]> = { 'status:dataset': DATASET_STATUSES, 'status:job': JOB_STATUSES, 'status:task': TASK_STATUSES }

  /** Whether `kind` accepts `value` (API.md's meaning of each parameter). */
  function accepts(kind: QueryKind, value: string): boolean {
    switch (kind) {
      case 'keys':
        return value.split('|').some((key) => key.length > 0)
      case 'integer':
        return /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value))
      case 'positive integer':
        return /^\d+$/.test(value) && Number.isSafeInteger(Number(value)) && Number(value) >= 1
      case 'order':
        return value === 'asc' || value === 'desc'
      case 'boolean':
        return ['true', 'false'].includes(value.toLowerCase())
      case 'task id':
        return value === suite.f.ids.task_id
      default:
        return value.split('|').every((status) => STATUS_LISTS[kind]!.includes(status))
    }
  }

  /** What the refusal must say: the bad status, or the parameter's name. */
  const refusalOf = (kind: QueryKind, name: string): Expectation =>
    kind.startsWith('status:')
      ? { message: (error) => error.startsWith('bad status: '), messageDescription: 'say "bad status: <value>"' }
      : { message: (error) => error.includes(`query parameter ${name}`) || error === `bad query parameter: ${name}`, messageDescription: `name the parameter ${name}` }

  const FIXED: Record<QueryKind, string[]> = {
    'status:dataset': ['', 'bogus', 'PROCESSING', 'processing|', '|processing', 'processing|bogus', 'idle', ' processing', 'x'.repeat(10_000)],
    'status:job': ['', 'bogus', 'Processing', 'failed|', 'waiting', 'processing,failed'],
    'status:task': ['', 'bogus', 'QUEUED', 'queued|', '||', 'queued|processing|nope', 'truncated', 'waiting '],
    keys: ['', '|', '||||'],
    integer: ['', 'x', '1.5', '1e3', '0x10', '+1', ' 1', '1 ', '١', '99999999999999999999', '--1', '1-', 'NaN', 'Infinity'],
    'positive integer': ['', '0', '-1', '-0', '1.0', '2.5', 'ten', '1e2', '99999999999999999999', '+3'],
    order: ['', 'ASC', 'Desc', 'up', 'asc ', 'ascending', 'random'],
    boolean: ['', 'yes', 'no', '1', '0', 'on', 'truee', 't', 'false '],
    'task id': ['', 'nosuchtask', 'x'.repeat(10_000), '%', 'a|b'],
  }

  const cases = QUERY_ROUTES.flatMap((route) => Object.entries(route.query).map(([name, kind]) => ({ route, name, kind })))

  test('the fixed bad values are bad by API.md (so that each case below can only be refused)', () => {
    for (const { kind } of cases) for (const value of FIXED[kind]) expect({ kind, value, accepted: accepts(kind, value) }).toEqual({ kind, value, accepted: false })
  })

  test('each route and parameter: fixed bad values are 400 saying what is wrong', async () => {
    for (const { route, name, kind } of cases) {
      for (const value of FIXED[kind]) {
        await expectRefused(call(route, {}, undefined, `?${name}=${encodeURIComponent(value)}`), { status: 400, ...refusalOf(kind, name) })
      }
    }
  })

  test('any value a parameter cannot mean is 400, alone or beside valid parameters', async () => {
    const text = fc.oneof(fc.string({ maxLength: 12, unit: 'grapheme' }), oddText(), fc.stringMatching(/^[-+]?[0-9.e]{0,6}$/))
    const scenario = fc
      .constantFrom(...cases)
      .chain((c) => fc.tuple(fc.constant(c), text.filter((value) => value.isWellFormed() && !accepts(c.kind, value)), fc.constantFrom(...c.route.roles), fc.boolean()))
    await fc.assert(
      fc.asyncProperty(scenario, async ([{ route, name, kind }, value, role, withOthers]) => {
        const others = withOthers ? '&unrelated=1&keys=status' : ''
        // A bad keys value must not be overridden by the `keys` added beside it.
        const query = name === 'keys' ? `?${name}=${encodeURIComponent(value)}` : `?${name}=${encodeURIComponent(value)}${others}`
        await expectRefused(call(route, {}, role, query), { status: 400, ...refusalOf(kind, name) })
      }),
      { numRuns: 300 },
    )
  })

  const GOOD: Record<QueryKind, string> = {
    'status:dataset': 'processing',
    'status:job': 'failed',
    'status:task': 'queued',
    keys: 'status',
    integer: '3',
    'positive integer': '2',
    order: 'asc',
    boolean: 'true',
    // Read once the fixture exists.
    get 'task id'() {
      return suite.f.ids.task_id!
    },
  }

  test('the good values are good by API.md', () => {
    for (const { kind } of cases) expect({ kind, accepted: accepts(kind, GOOD[kind]) }).toEqual({ kind, accepted: true })
  })

  test('each route and parameter: a parameter given twice is 400, whichever value comes last (only the last one would be read)', async () => {
    for (const { route, name, kind } of cases) {
      const bad = FIXED[kind][1]!
      for (const [first, second] of [[bad, GOOD[kind]], [GOOD[kind], bad], [GOOD[kind], GOOD[kind]]]) {
        const query = `?${name}=${encodeURIComponent(first!)}&${name}=${encodeURIComponent(second!)}`
        await expectRefused(call(route, {}, undefined, query), { status: 400, ...says(`query parameter ${name} given more than once`) })
      }
    }
  })

  test('percent-encoding that does not decode is refused where only known words are meant', async () => {
    for (const { route, name, kind } of cases.filter((c) => c.kind !== 'keys')) {
      for (const raw of ['%ZZ', '%', '%FF', '%ED%A0%80', '%C0%AF']) {
        await expectRefused(call(route, {}, undefined, `?${name}=${raw}`), { status: 400, ...refusalOf(kind, name) })
      }
    }
  })
})
