/**
 * How bodies arrive, on every JSON route of API.md: any Content-Type or none
 * (read as JSON all the same), no body at all (400), bodies over the configured
 * limit (413) whether their length is declared, streamed without one, or
 * declared falsely. Every refusal is a 4xx {code, error} that writes nothing.
 * The same lies told over a real socket are in bad-input-wire.test.ts.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import fc from 'fast-check'
import {
  acceptsStrings,
  BODY_ROUTES,
  jsonText,
  MAX_BODY,
  refusalSuite,
  routeAndRole,
  type Route,
  says,
  type BodyRoute,
} from './bad-input-support'

// These tests start real servers and run many cases: more than the 5 s default.
setDefaultTimeout(60_000)

const suite = refusalSuite()
const { expectRefused } = suite

const TOO_LARGE = { status: 413, ...says(`body larger than ${MAX_BODY} bytes`) }

const validText = (route: BodyRoute) => jsonText(route.body.valid(suite.f.ids))

/**
 * A body that parses as JSON and is refused by the route's own checks, with
 * the status that says so: proof that the body was read as JSON.
 */
function refusedButJson(route: BodyRoute): { text: string; status: number } {
  const valid = route.body.valid(suite.f.ids)
  const required = Object.keys(route.body.required)
  if (required.length > 0) {
    const { [required[0]!]: _, ...rest } = valid
    return { text: jsonText(rest), status: 400 }
  }
  // Not `{}`: the cases add a key to it.
  const refused = route.body.refused?.(suite.f.ids).find(([body]) => Object.keys(body).length > 0)
  if (refused) return { text: jsonText(refused[0]), status: refused[1] }
  const [key, kind] = Object.entries(route.body.optional ?? {})[0]!
  return { text: jsonText({ ...valid, [key]: acceptsStrings(kind) ? 5 : 'x' }), status: 400 }
}

/** JSON text of `text` (an object) grown to exactly `size` bytes with one long extra key. */
function padTo(text: string, size: number): string {
  const withPad = (filler: number) => `{"pad":"${'x'.repeat(filler)}"${text === '{}' ? '' : ','}${text.slice(1)}`
  return withPad(size - new TextEncoder().encode(withPad(0)).length)
}

const padded = (route: BodyRoute, size: number) => padTo(validText(route), size)

function stream(text: string, chunkSize = 8192): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text)
  let offset = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close()
      controller.enqueue(bytes.slice(offset, offset + chunkSize))
      offset += chunkSize
    },
  })
}

describe('Content-Type', () => {
  const OTHER_TYPES = [
    'text/plain', 'text/plain; charset=utf-8', 'text/json', 'text/html', 'application/xml', 'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=UTF-8', 'multipart/form-data; boundary=xyz', 'application/octet-stream', 'application/jsonx',
    'application/json-patch', 'image/png', 'json', '*/*', 'application/*', '',
  ]
  const JSON_TYPES = [null, 'application/json', 'APPLICATION/JSON', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', ' application/json ', 'application/vnd.api+json']

  test('each route: a body is read as JSON whatever its Content-Type says, or without one', async () => {
    for (const route of BODY_ROUTES) {
      const { text, status } = refusedButJson(route)
      for (const contentType of [...JSON_TYPES, ...OTHER_TYPES]) {
        // Refused for what the JSON says, not for its type: it was parsed.
        await expectRefused({ ...suite.addressed(route), body: text, contentType }, { status })
        await expectRefused({ ...suite.addressed(route), body: '{"broken"', contentType }, { status: 400, ...says('body is not valid JSON') })
      }
    }
  })

  test('any media type: the body is parsed as JSON', async () => {
    const token = fc.stringMatching(/^[a-z][a-z0-9.+-]{0,12}$/)
    const mediaType = fc.tuple(token, token, fc.constantFrom('', '; charset=utf-8', ';q=1')).map(([type, subtype, parameters]) => `${type}/${subtype}${parameters}`)
    await fc.assert(
      fc.asyncProperty(routeAndRole, mediaType, async ([route, role], contentType) => {
        const { text, status } = refusedButJson(route)
        await expectRefused({ ...suite.addressed(route, role), body: text, contentType }, { status })
      }),
      { numRuns: 100 },
    )
  })
})

describe('no body', () => {
  // PUT /roles/<name> is the one route whose body API.md makes optional.
  const needsBody = BODY_ROUTES.filter((route) => !(route.method === 'PUT' && route.path === '/roles/:role_name'))

  test('each route that takes a body: none, or an empty one, is 400 "missing body", whatever the Content-Type', async () => {
    expect(needsBody.length).toBe(BODY_ROUTES.length - 1)
    for (const route of needsBody) {
      for (const contentType of [null, 'application/json', 'application/x-www-form-urlencoded', 'text/plain']) {
        await expectRefused({ ...suite.addressed(route), contentType }, { status: 400, ...says('missing body') })
        await expectRefused({ ...suite.addressed(route), body: '', contentType }, { status: 400, ...says('missing body') })
        await expectRefused({ ...suite.addressed(route), body: stream(''), contentType }, { status: 400, ...says('missing body') })
      }
    }
  })

  test('each route that takes a body: without a valid token it is still 401 first', async () => {
    for (const route of needsBody.filter((r) => !r.roles.includes('public'))) {
      await expectRefused({ ...suite.addressed(route), token: null }, { status: 401 })
    }
  })
})

describe('body size', () => {
  test(`each route: a valid body over the ${MAX_BODY}-byte limit is 413, declared, streamed without a length, or at any size`, async () => {
    for (const route of BODY_ROUTES) {
      const over = padded(route, MAX_BODY + 1)
      expect(new TextEncoder().encode(over).length).toBe(MAX_BODY + 1)
      await expectRefused({ ...suite.addressed(route), body: over }, TOO_LARGE)
      await expectRefused({ ...suite.addressed(route), body: stream(over) }, TOO_LARGE)
      await expectRefused({ ...suite.addressed(route), body: padded(route, 4 * MAX_BODY) }, TOO_LARGE)
    }
  })

  test('each route: exactly at the limit the body is read (refused for what it says, not its size)', async () => {
    for (const route of BODY_ROUTES) {
      const { text, status } = refusedButJson(route)
      const atLimit = padTo(text, MAX_BODY)
      expect(new TextEncoder().encode(atLimit).length).toBe(MAX_BODY)
      await expectRefused({ ...suite.addressed(route), body: atLimit }, { status })
      await expectRefused({ ...suite.addressed(route), body: stream(atLimit, 1000) }, { status })
    }
  })

  test('each route: a Content-Length over the limit is 413 whatever the body holds (the declared length is believed first)', async () => {
    for (const route of BODY_ROUTES) {
      for (const declared of [MAX_BODY + 1, 10 * MAX_BODY, 2 ** 40]) {
        await expectRefused({ ...suite.addressed(route), body: validText(route), headers: { 'content-length': String(declared) } }, TOO_LARGE)
      }
    }
  })

  test('bodies of any size over the limit, streamed in chunks of any size, are 413', async () => {
    const sizes = fc.tuple(fc.integer({ min: MAX_BODY + 1, max: 3 * MAX_BODY }), fc.integer({ min: 1, max: 2 * MAX_BODY }))
    await fc.assert(
      fc.asyncProperty(routeAndRole, sizes, fc.boolean(), async ([route, role], [size, chunk], declared) => {
        const text = padded(route, size)
        await expectRefused({ ...suite.addressed(route, role), body: declared ? text : stream(text, chunk) }, TOO_LARGE)
      }),
      { numRuns: 60 },
    )
  })

  test('a streamed body is not read past the limit', async () => {
    const route = BODY_ROUTES.find((r) => r.method === 'POST' && r.path === '/logs')!
    let pulled = 0
    const chunk = new Uint8Array(4096).fill(0x20)
    // Whitespace forever: only the limit ends it.
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.length
        controller.enqueue(chunk)
      },
    })
    await expectRefused({ ...suite.addressed(route), body: endless }, TOO_LARGE)
    // The reader stops at the chunk that crosses the limit (a stream may pull a few ahead).
    expect(pulled).toBeLessThan(MAX_BODY + 8 * chunk.length)
  })
})
