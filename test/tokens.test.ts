import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { TokenService } from '../src/auth/tokens'
import { TEST_SECRET, startTestApp, type TestApp } from './support'

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
    ['expired', () => craft({ ...good(), exp: now() - 10 })],
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

  test('a cached token stops working when it expires', async () => {
    const service = new TokenService(TEST_SECRET)
    const token = craft({ ...good(), exp: now() + 1 })
    expect(await service.verify(token)).toBeDefined()
    await Bun.sleep(2100)
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
