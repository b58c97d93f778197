import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { IN_FLIGHT_FACTOR, LoginThrottle } from '../src/auth/throttle'
import { MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from '../src/modules/auth/model'
import { fail, StatusError } from '../src/errors'

// These tests start real processes: allow more than the 5 s default on a busy machine.
setDefaultTimeout(60_000)

const limits = { perUsername: 3, perAddress: 5, windowMs: 1000, maxEntries: 4 }

const at = (ms: number) => () => ms
const wrong = async () => false
const right = async () => true
const unanswered = async (): Promise<boolean> => fail(503, 'LDAP server unavailable')

/** The attempt's status: 429 when refused, 503 when unanswered, else whether the password was right. */
async function outcome(attempt: Promise<boolean>): Promise<number | boolean> {
  try {
    return await attempt
  } catch (error) {
    return error instanceof StatusError ? error.status : -1
  }
}

/** A check that answers only when told: attempts whose check is under way. */
function heldChecks() {
  const pending: ((ok: boolean) => void)[] = []
  return { pending, check: () => new Promise<boolean>((resolve) => pending.push(resolve)) }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('LoginThrottle', () => {
  test('a username is refused with 429 after its failures, until the window ends', async () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 3; i++) expect(await outcome(throttle.attempt('alice', undefined, at(100), wrong))).toBe(false)
    expect(await outcome(throttle.attempt('alice', undefined, at(200), right))).toBe(429)
    expect(await outcome(throttle.attempt('bob', undefined, at(200), wrong))).toBe(false)
    expect(await outcome(throttle.attempt('alice', undefined, at(1100), right))).toBe(true)
  })

  test('an address is refused after failures spread over many usernames', async () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 5; i++) await throttle.attempt(`user${i}`, '10.0.0.1', at(0), wrong)
    expect(await outcome(throttle.attempt('fresh', '10.0.0.1', at(10), right))).toBe(429)
    expect(await outcome(throttle.attempt('fresh', '10.0.0.2', at(10), right))).toBe(true)
  })

  test("a success clears the username's failures; the address keeps only the failures", async () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 2; i++) await throttle.attempt('carol', '10.0.0.1', at(0), wrong)
    for (let i = 0; i < 3; i++) expect(await outcome(throttle.attempt('carol', '10.0.0.1', at(0), right))).toBe(true)
    await throttle.attempt('carol', '10.0.0.1', at(0), wrong)
    expect(await outcome(throttle.attempt('carol', '10.0.0.1', at(0), wrong))).toBe(false)
    // The address counts the 4 failures alone: one more is its fifth.
    expect(await outcome(throttle.attempt('dave', '10.0.0.1', at(0), wrong))).toBe(false)
    expect(await outcome(throttle.attempt('erin', '10.0.0.1', at(0), right))).toBe(429)
  })

  test('an attempt LDAP did not answer counts for neither the username nor the address', async () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 10; i++) expect(await outcome(throttle.attempt('frank', '10.0.0.1', at(0), unanswered))).toBe(503)
    expect(await outcome(throttle.attempt('frank', '10.0.0.1', at(0), right))).toBe(true)
  })

  test('memory stays bounded: the oldest entries go first', async () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 3; i++) await throttle.attempt('first', undefined, at(0), wrong)
    for (let i = 0; i < 10; i++) await throttle.attempt(`other${i}`, undefined, at(0), wrong)
    // "first" was evicted: its failures are forgotten rather than growing memory without end.
    expect(await outcome(throttle.attempt('first', undefined, at(0), right))).toBe(true)
    expect(throttle.held()).toBeLessThanOrEqual(4)
  })
})

describe('attempts at once', () => {
  test('right passwords sent at once for one username all pass, however many', async () => {
    const throttle = new LoginThrottle(limits)
    const results = await Promise.all(Array.from({ length: 10 }, () => outcome(throttle.attempt('grace', '10.0.0.1', at(0), right))))
    expect(results).toEqual(Array(10).fill(true))
  })

  test('wrong passwords sent at once for one username: its limit of them is checked, the rest are 429', async () => {
    const throttle = new LoginThrottle(limits)
    let checked = 0
    const check = async () => (checked++, false)
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => outcome(throttle.attempt('heidi', `10.0.1.${i}`, at(0), check))))
    expect(checked).toBe(limits.perUsername)
    expect(results.filter((r) => r === false)).toHaveLength(limits.perUsername)
    expect(results.filter((r) => r === 429)).toHaveLength(50 - limits.perUsername)
  })

  test('attempts for one username take turns: the next is checked only once the one before has its answer', async () => {
    const throttle = new LoginThrottle(limits)
    const held = heldChecks()
    const first = throttle.attempt('ivan', undefined, at(0), held.check)
    const second = throttle.attempt('ivan', undefined, at(0), held.check)
    await turn()
    expect(held.pending).toHaveLength(1)
    held.pending[0]!(true)
    expect(await first).toBe(true)
    await turn()
    expect(held.pending).toHaveLength(2)
    held.pending[1]!(true)
    expect(await second).toBe(true)
    expect(throttle.held()).toBe(0)
  })

  test('one address: logins of different users at once pass up to 4 × its limit under way, the rest are 429', async () => {
    const throttle = new LoginThrottle({ ...limits, maxEntries: 1000 })
    // The README's 4 × the address's limit.
    const ceiling = 4 * limits.perAddress
    expect(IN_FLIGHT_FACTOR).toBe(4)
    const held = heldChecks()
    const attempts = Array.from({ length: ceiling + 10 }, (_, i) => outcome(throttle.attempt(`user${i}`, '10.0.0.1', at(0), held.check)))
    await turn()
    expect(held.pending).toHaveLength(ceiling)
    for (const answer of held.pending) answer(true)
    const results = await Promise.all(attempts)
    expect(results.filter((r) => r === true)).toHaveLength(ceiling)
    expect(results.filter((r) => r === 429)).toHaveLength(10)
    // Once answered, they hold nothing: the next burst passes as well.
    expect(throttle.held()).toBe(0)
    expect(await Promise.all(Array.from({ length: ceiling }, (_, i) => outcome(throttle.attempt(`later${i}`, '10.0.0.1', at(0), right))))).toEqual(Array(ceiling).fill(true))
  })

  test('a burst of wrong guesses from one address: at most 4 × its limit reach LDAP, the rest and the next are 429', async () => {
    const throttle = new LoginThrottle({ ...limits, maxEntries: 1000 })
    let checked = 0
    const check = async () => (checked++, false)
    const first = await Promise.all(Array.from({ length: 100 }, (_, i) => outcome(throttle.attempt(`guess${i}`, '10.0.0.1', at(0), check))))
    expect(checked).toBe(4 * limits.perAddress)
    expect(first.filter((r) => r === 429)).toHaveLength(100 - 4 * limits.perAddress)
    expect(await outcome(throttle.attempt('another', '10.0.0.1', at(0), right))).toBe(429)
  })
})

describe('throttling by client address, over a real socket', () => {
  test('20 failed logins from one address with different usernames: the next is 429', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { startServer } = await import('../src/server')
    const { loadConfig } = await import('../src/config')
    const { copyMigratedDatabase, TEST_SECRET } = await import('./support')
    const dir = mkdtempSync(join(tmpdir(), 'iceprod-throttle-'))
    const config = loadConfig({ db: join(dir, 'db.sqlite'), port: '0', logLevel: 'silent' }, { ICEPROD_JWT_SECRET: TEST_SECRET })
    copyMigratedDatabase(config.db)
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
  test('an attempt answered or unanswered leaves no entry: the memory held goes back to nothing', async () => {
    const throttle = new LoginThrottle(limits)
    for (let i = 0; i < 10; i++) await outcome(throttle.attempt(`user${i}`, '10.0.0.1', at(0), unanswered))
    expect(throttle.held()).toBe(0)
    await throttle.attempt('grace', '10.0.0.1', at(0), right)
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
