import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { TokenService } from '../src/auth/tokens'
import { FakeClock, TEST_SECRET, startTestApp, type TestApp } from './support'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(() => t.close())

const b64 = (value: object | string) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** A JWT built by hand so that every field, including the algorithm, can be wrong. */
function craft(claims: Record<string, unknown>, options: { alg?: string; secret?: string; sign?: 'sha512' | 'sha256' | 'none' } = {}) {
  const header = b64({ alg: options.alg ?? 'HS512', typ: 'JWT' })
  const payload = b64(claims)
  const sign = options.sign ?? 'sha512'
  const signature = sign === 'none' ? '' : createHmac(sign, options.secret ?? TEST_SECRET).update(`${header}.${payload}`).digest('base64url')
  return `${header}.${payload}.${signature}`
}

const now = () => Math.floor(Date.now() / 1000)

const good = () => ({ iss: 'IceProd', sub: 'admin', username: 'admin', role: 'admin', groups: [], type: 'user', exp: now() + 600, nbf: now() - 1 })

describe('token verification', () => {
  test('a well-formed HS512 token is accepted, with a case-insensitive scheme', async () => {
    expect((await t.call('GET', '/roles', { token: craft(good()) })).status).toBe(200)
    const r = await t.call('GET', '/roles', { token: null, headers: { authorization: `bEaReR ${craft(good())}` } })
    expect(r.status).toBe(200)
  })

  const attacks: [string, () => string | null, Record<string, string>?][] = [
    ['no Authorization header', () => null],
    ['another scheme', () => null, { authorization: `Basic ${btoa('a:b')}` }],
    ['a scheme without a token', () => null, { authorization: 'Bearer ' }],
    ['another secret', () => craft(good(), { secret: 'another-secret-another-secret-another-secret' })],
    ['expired (beyond the 60 s clock skew)', () => craft({ ...good(), exp: now() - 120 })],
    ['not yet valid (future nbf)', () => craft({ ...good(), nbf: now() + 600 })],
    ['alg none', () => craft(good(), { alg: 'none', sign: 'none' })],
    ['HS256 with the server secret', () => craft(good(), { alg: 'HS256', sign: 'sha256' })],
    ['wrong issuer', () => craft({ ...good(), iss: 'Other' })],
    ['no issuer', () => craft({ ...good(), iss: undefined })],
    ['no exp', () => craft({ ...good(), exp: undefined })],
    ['no type', () => craft({ ...good(), type: undefined })],
    ['unknown type', () => craft({ ...good(), type: 'root' })],
    ['groups not a list', () => craft({ ...good(), groups: 'admin' })],
    ['truncated', () => craft(good()).slice(0, -10)],
    ['tampered payload', () => {
      const [h, , s] = craft({ ...good(), role: 'user' }).split('.')
      return `${h}.${b64(good())}.${s}`
    }],
    ['oversized', () => craft({ ...good(), pad: 'x'.repeat(20_000) })],
    ['garbage', () => 'not.a.token'],
  ]
  for (const [name, make, headers] of attacks) {
    test(`401 with WWW-Authenticate: ${name}`, async () => {
      const r = await t.call('GET', '/roles', { token: make(), headers })
      expect(r.status).toBe(401)
      expect(r.headers.get('www-authenticate')).toBe('Bearer')
      expect(r.body).toEqual({ code: 401, error: expect.any(String) })
    })
  }

  test('a cached token stops working when it expires, past the clock skew', async () => {
    const clock = new FakeClock(1_700_000_000_000)
    const service = new TokenService(TEST_SECRET, { clock: clock.now })
    const token = craft({ ...good(), exp: clock.seconds() + 1, nbf: clock.seconds() })
    expect(await service.verify(token)).toBeDefined()
    clock.advance(60_999)
    expect(service.cached(token)).toBeDefined()
    expect(await service.verify(token)).toBeDefined()
    clock.advance(1)
    expect(service.cached(token)).toBeUndefined()
    expect(await service.verify(token)).toBeUndefined()
  })

  test('a failed verification is not cached: the same string stays refused', async () => {
    const service = new TokenService(TEST_SECRET)
    const bad = craft(good(), { secret: 'x'.repeat(40) })
    expect(await service.verify(bad)).toBeUndefined()
    expect(await service.verify(bad)).toBeUndefined()
  })

  test('signed tokens carry the IceProd claims', async () => {
    const token = await t.token('user', { username: 'bob', groups: ['/g'] })
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())
    expect(header.alg).toBe('HS512')
    expect(claims).toMatchObject({ iss: 'IceProd', sub: 'bob', username: 'bob', role: 'user', groups: ['/g'], type: 'user' })
    expect(claims.exp).toBeGreaterThan(now())
  })
})

describe('IceProd times: fractional seconds and the clock skew', () => {
  // Half-way through a second, as IceProd's time.time() usually is.
  const NOW_MS = 1_700_000_000_500
  const NOW = NOW_MS / 1000
  const at = (claims: Record<string, unknown>) => craft({ ...good(), iat: NOW, nbf: NOW, exp: NOW + 600.25, ...claims })
  const verifier = (clockSkew?: number) => new TokenService(TEST_SECRET, { clock: () => NOW_MS, clockSkew })
  const accepted = async (service: TokenService, claims: Record<string, unknown>) => (await service.verify(at(claims))) !== undefined

  test('a token minted this very instant with fractional iat, nbf and exp is accepted, with any skew', async () => {
    expect(await accepted(verifier(), {})).toBe(true)
    expect(await accepted(verifier(0), {})).toBe(true)
    expect(await verifier(0).verify(at({}))).toMatchObject({ exp: NOW + 600.25, username: 'admin' })
  })

  test('with the default 60 s: nbf up to now + 60 and exp down to just after now − 60 are accepted', async () => {
    const service = verifier()
    expect(await accepted(service, { nbf: NOW + 59.9 })).toBe(true)
    expect(await accepted(service, { nbf: NOW + 60 })).toBe(true)
    expect(await accepted(service, { exp: NOW - 30 })).toBe(true)
    expect(await accepted(service, { exp: NOW - 59.9 })).toBe(true)
  })

  test('with the default 60 s: nbf = now + 61 and exp = now − 61 are refused, also to the fraction of a second', async () => {
    const service = verifier()
    expect(await accepted(service, { nbf: NOW + 61 })).toBe(false)
    expect(await accepted(service, { nbf: NOW + 60.1 })).toBe(false)
    expect(await accepted(service, { exp: NOW - 61 })).toBe(false)
    expect(await accepted(service, { exp: NOW - 60 })).toBe(false)
    expect(await accepted(service, { exp: NOW - 60.4 })).toBe(false)
  })

  test('the skew sets the window: 0 checks the exact time, 120 accepts two minutes either way', async () => {
    const exact = verifier(0)
    expect(await accepted(exact, { nbf: NOW + 0.1 })).toBe(false)
    expect(await accepted(exact, { exp: NOW })).toBe(false)
    expect(await accepted(exact, { exp: NOW + 0.1, nbf: NOW - 0.1 })).toBe(true)
    expect(await accepted(exact, { exp: NOW - 30 })).toBe(false)
    const wide = verifier(120)
    expect(await accepted(wide, { nbf: NOW + 100 })).toBe(true)
    expect(await accepted(wide, { exp: NOW - 100 })).toBe(true)
    expect(await accepted(wide, { nbf: NOW + 121 })).toBe(false)
    expect(await accepted(wide, { exp: NOW - 121 })).toBe(false)
  })

  test('a cached token is judged with the same window', async () => {
    const clock = new FakeClock(NOW_MS)
    const service = new TokenService(TEST_SECRET, { clock: clock.now, clockSkew: 10 })
    const token = at({ exp: NOW + 5 })
    expect(await service.verify(token)).toBeDefined()
    clock.advance(14_900)
    expect(service.cached(token)).toBeDefined()
    clock.advance(200)
    expect(service.cached(token)).toBeUndefined()
  })

  test('ICEPROD_CLOCK_SKEW reaches the server: the same token is refused at 0 and accepted at 120', async () => {
    const inAMinuteAndAHalf = { ...good(), nbf: Date.now() / 1000 + 90 }
    const exact = await startTestApp({}, { ICEPROD_CLOCK_SKEW: '0' })
    const wide = await startTestApp({}, { ICEPROD_CLOCK_SKEW: '120' })
    try {
      expect(exact.config.clockSkew).toBe(0)
      expect((await exact.call('GET', '/roles', { token: craft(inAMinuteAndAHalf) })).status).toBe(401)
      expect((await t.call('GET', '/roles', { token: craft(inAMinuteAndAHalf) })).status).toBe(401)
      expect((await wide.call('GET', '/roles', { token: craft(inAMinuteAndAHalf) })).status).toBe(200)
      // A token minted a moment ago with IceProd's fractional times passes even the exact check;
      // minted on the server's clock (Date.now() and the monotonic clock drift apart in a long test run).
      const minted = exact.ctx.clock() / 1000
      const fresh = craft({ ...good(), iat: minted, nbf: minted, exp: minted + 3600 })
      expect((await exact.call('GET', '/roles', { token: fresh })).status).toBe(200)
      expect((await t.call('GET', '/roles', { token: fresh })).status).toBe(200)
    } finally {
      exact.close()
      wide.close()
    }
  })
})
