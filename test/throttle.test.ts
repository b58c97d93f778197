import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { LoginThrottle } from '../src/auth/throttle'
import { MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from '../src/modules/auth/model'
import { StatusError } from '../src/errors'

// These tests start real processes: allow more than the 5 s default on a busy machine.
setDefaultTimeout(60_000)

const limits = { perUsername: 3, perAddress: 5, windowMs: 1000, maxEntries: 4 }

function refused(fn: () => void): number | undefined {
  try {
    fn()
    return undefined
  } catch (error) {
    return error instanceof StatusError ? error.status : -1
  }
}

describe('LoginThrottle', () => {
  test('a username is refused with 429 after its failures, until the window ends', () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 3; i++) expect(refused(() => throttle.attempt('alice', undefined, 100))).toBeUndefined()
    expect(refused(() => throttle.attempt('alice', undefined, 200))).toBe(429)
    expect(refused(() => throttle.attempt('bob', undefined, 200))).toBeUndefined()
    expect(refused(() => throttle.attempt('alice', undefined, 1100))).toBeUndefined()
  })

  test('an address is refused after failures spread over many usernames', () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 5; i++) throttle.attempt(`user${i}`, '10.0.0.1', 0)
    expect(refused(() => throttle.attempt('fresh', '10.0.0.1', 10))).toBe(429)
    expect(refused(() => throttle.attempt('fresh', '10.0.0.2', 10))).toBeUndefined()
  })

  test("a success clears the username and takes back the address's count of the attempt", () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 2; i++) throttle.attempt('carol', '10.0.0.1', 0)
    for (let i = 0; i < 3; i++) {
      throttle.attempt('carol', '10.0.0.1', 0)
      throttle.succeeded('carol', '10.0.0.1')
    }
    throttle.attempt('carol', '10.0.0.1', 0)
    expect(refused(() => throttle.attempt('carol', '10.0.0.1', 0))).toBeUndefined()
    // The address counts the 4 failures alone: one more is its fifth.
    expect(refused(() => throttle.attempt('dave', '10.0.0.1', 0))).toBeUndefined()
    expect(refused(() => throttle.attempt('erin', '10.0.0.1', 0))).toBe(429)
  })

  test('an attempt LDAP did not answer counts for neither the username nor the address', () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 10; i++) {
      throttle.attempt('frank', '10.0.0.1', 0)
      throttle.unanswered('frank', '10.0.0.1')
    }
    expect(refused(() => throttle.attempt('frank', '10.0.0.1', 0))).toBeUndefined()
  })

  test('memory stays bounded: the oldest entries go first', () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 3; i++) throttle.attempt('first', undefined, 0)
    for (let i = 0; i < 10; i++) throttle.attempt(`other${i}`, undefined, 0)
    // "first" was evicted: its failures are forgotten rather than growing memory without end.
    expect(refused(() => throttle.attempt('first', undefined, 0))).toBeUndefined()
    expect(throttle.held()).toBeLessThanOrEqual(4)
  })
})

describe('throttling by client address, over a real socket', () => {
  test('20 failed logins from one address with different usernames: the next is 429', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { startServer } = await import('../src/server')
    const { loadConfig } = await import('../src/config')
    const { TEST_SECRET } = await import('./support')
    const dir = mkdtempSync(join(tmpdir(), 'iceprod-throttle-'))
    const config = loadConfig({ db: join(dir, 'db.sqlite'), port: '0', logLevel: 'silent' }, { ICEPROD_JWT_SECRET: TEST_SECRET })
    const server = await startServer(config)
    const login = (username: string) =>
      fetch(`${server.url}/ldap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: '' }) })
    try {
      for (let i = 0; i < 20; i++) expect((await login(`sprayed${i}`)).status).toBe(401)
      const refused = await login('never-tried-before')
      expect(refused.status).toBe(429)
      expect(await refused.json()).toEqual({ code: 429, error: expect.stringContaining('too many failed logins') })
    } finally {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('what a login attempt leaves behind', () => {
  test('an attempt taken back leaves no entry: the memory held goes back to nothing', () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 10; i++) {
      throttle.attempt(`user${i}`, '10.0.0.1', 0)
      throttle.unanswered(`user${i}`, '10.0.0.1')
    }
    expect(throttle.held()).toBe(0)
    throttle.attempt('grace', '10.0.0.1', 0)
    throttle.succeeded('grace', '10.0.0.1')
    expect(throttle.held()).toBe(0)
  })

  test('a username or password past its limit is 400 before the throttle or LDAP sees it', async () => {
    const { startTestApp } = await import('./support')
    const t = await startTestApp()
    try {
      const cases = [
        { username: 'u'.repeat(MAX_USERNAME_LENGTH + 1), password: 'p' },
        { username: 'alice', password: 'p'.repeat(MAX_PASSWORD_LENGTH + 1) },
        { username: 'u'.repeat(2_000_000), password: 'p' },
      ]
      for (const body of cases) {
        const r = await t.call('POST', '/ldap', { token: null, body })
        expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: { code: 400, error: expect.stringMatching(/username|password/) } })
      }
      // At the limits the login goes on (LDAP is not configured here: 501).
      const r = await t.call('POST', '/ldap', { token: null, body: { username: 'u'.repeat(MAX_USERNAME_LENGTH), password: 'p'.repeat(MAX_PASSWORD_LENGTH) } })
      expect(r.status).toBe(501)
    } finally {
      t.close()
    }
  })
})
