import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { escapeDnValue, userDn } from '../src/auth/ldap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config'
import { startServer } from '../src/server'
import { freePort, LDAP_BASE, PROXIED_USERS, startSilentServer, startSlapd, type Slapd } from './ldap-server'
import { copyMigratedDatabase, startTestApp, TEST_SECRET, type TestApp } from './support'

// These tests start real processes: allow more than the 5 s default on a busy machine.
setDefaultTimeout(60_000)

let slapd: Slapd
let t: TestApp
const ODD_UID = 'o,brien+x=y\\ (z)*#'

beforeAll(async () => {
  slapd = await startSlapd()
  t = await startTestApp({ ldapUrl: slapd.url, ldapBase: LDAP_BASE, ldapTimeoutMs: 1500 })
  // The first start may install OpenLDAP with apt-get (see ldap-server.ts).
}, 600_000)
afterAll(async () => {
  t.close()
  await slapd.stop()
})

/** The LDAP timeout of the apps whose LDAP server never answers: short, as the tests wait for it. */
const HANG_TIMEOUT_MS = 40

const login = (username: unknown, password: unknown, app: TestApp = t) => app.call('POST', '/ldap', { token: null, body: { username, password } })
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())

describe('DN escaping', () => {
  test('every character that could change the DN is hex-escaped', () => {
    expect(escapeDnValue('alice')).toBe('alice')
    expect(userDn('a,b=c+d', 'ou=P')).toBe('uid=a\\2cb\\3dc\\2bd,ou=P')
    expect(escapeDnValue('*)(uid=*')).not.toMatch(/[*()=]/)
    expect(escapeDnValue('é')).toBe('\\c3\\a9')
    expect(escapeDnValue(' x ')).toBe('\\20x\\20')
  })
})

describe('POST /ldap', () => {
  test('a right password logs in, creates the user, and returns a working token', async () => {
    const r = await login('alice', 'alice-password')
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ token: expect.any(String), username: 'alice', roles: [], current_role: 'anonymous', groups: [] })
    expect(claimsOf(r.body.token)).toMatchObject({ type: 'user', role: 'anonymous', username: 'alice', iss: 'IceProd' })
    const users = (await t.call('GET', '/users')).body.results
    expect(users.filter((u: { username: string }) => u.username === 'alice')).toHaveLength(1)
    expect((await t.call('GET', '/auths/x/actions/read', { token: r.body.token })).status).toBe(403) // token verifies
  })

  test('an existing user with the user role gets role user and their groups', async () => {
    await t.call('POST', '/groups', { body: { name: '/alicegroup' } })
    const id = (await t.call('GET', '/users')).body.results.find((u: { username: string }) => u.username === 'alice').user_id
    await t.call('PUT', `/users/${id}/roles`, { body: { roles: ['user'] } })
    await t.call('PUT', `/users/${id}/groups`, { body: { groups: ['/alicegroup'] } })
    const r = await login('alice', 'alice-password')
    expect(r.body).toMatchObject({ username: 'alice', roles: ['user'], current_role: 'user', groups: ['/alicegroup'] })
    expect(claimsOf(r.body.token)).toMatchObject({ role: 'user', groups: ['/alicegroup'] })
    expect((await t.call('GET', '/users')).body.results.filter((u: { username: string }) => u.username === 'alice')).toHaveLength(1)
  })

  test('a uid with DN special characters logs in as itself', async () => {
    const r = await login(ODD_UID, 'odd-password')
    expect(r.status).toBe(200)
    expect(r.body.username).toBe(ODD_UID)
  })

  test('a wrong password is 401 Login failed and creates nothing', async () => {
    const before = t.count('users')
    const r = await login('alice', 'wrong')
    expect(r.status).toBe(401)
    expect(r.body).toEqual({ code: 401, error: 'Login failed' })
    expect((await login('nobody', 'x')).status).toBe(401)
    expect(t.count('users')).toBe(before)
  })

  test('injection attempts in the username never authenticate', async () => {
    for (const username of ['*', ')(uid=*', 'alice)(uid=*', 'alice,ou=People', 'uid=alice', 'alice+cn=test', 'alice\u0000', 'alice*', 'a'.repeat(256)]) {
      const r = await login(username, 'alice-password')
      expect(`${username.slice(0, 20)} ${r.status}`).toBe(`${username.slice(0, 20)} 401`)
    }
    // Longer than a username may be: refused before LDAP is asked.
    expect((await login('a'.repeat(5000), 'alice-password')).status).toBe(400)
  })

  test('an empty password is 401 without contacting LDAP', async () => {
    const silent = await startSilentServer()
    const other = await startTestApp({ ldapUrl: silent.url, ldapBase: LDAP_BASE, ldapTimeoutMs: HANG_TIMEOUT_MS })
    const r = await login('alice', '', other)
    expect(r.status).toBe(401)
    expect(r.body.error).toBe('Login failed')
    expect(silent.connections()).toBe(0)
    expect((await login('alice', 'x', other)).status).toBe(503) // the same setup does reach the server
    expect(silent.connections()).toBe(1)
    other.close()
    silent.stop()
  })

  test('body errors are 400 and checked first', async () => {
    expect((await login('', 'x')).status).toBe(400)
    expect((await login(undefined, 'x')).body.error).toBe('missing key: username')
    expect((await login('alice', undefined)).body.error).toBe('missing key: password')
    expect((await login('alice', 5)).body.error).toBe('key password must be a string')
    const unconfigured = await startTestApp()
    expect((await login('', '', unconfigured)).status).toBe(400)
    expect((await login('alice', '', unconfigured)).status).toBe(401)
    expect((await login('alice', 'x', unconfigured)).status).toBe(501)
    unconfigured.close()
  })

  test('a public route: a bad Authorization header is ignored', async () => {
    const r = await t.call('POST', '/ldap', { token: 'garbage', body: { username: 'alice', password: 'alice-password' } })
    expect(r.status).toBe(200)
  })

  test('an LDAP server that hangs answers 503 within the timeout', async () => {
    const silent = await startSilentServer()
    const other = await startTestApp({ ldapUrl: silent.url, ldapBase: LDAP_BASE, ldapTimeoutMs: HANG_TIMEOUT_MS })
    const started = performance.now()
    const r = await login('alice', 'alice-password', other)
    const elapsed = performance.now() - started
    expect(r.status).toBe(503)
    expect(elapsed).toBeLessThan(HANG_TIMEOUT_MS + 1000) // the configured timeout bounds the wait
    other.close()
    silent.stop()
  })

  test('a stopped LDAP server answers 503', async () => {
    // What a stopped server leaves: a port nothing listens on (freePort's listener has closed it).
    const stopped = { url: `ldap://127.0.0.1:${await freePort()}` }
    const other = await startTestApp({ ldapUrl: stopped.url, ldapBase: LDAP_BASE, ldapTimeoutMs: 1000 })
    const r = await login('alice', 'alice-password', other)
    expect(r.status).toBe(503)
    expect(r.body).toEqual({ code: 503, error: expect.any(String) })
    other.close()
  })
})

describe('failed-login throttling', () => {
  test('after 5 failures for a username, even the right password gets 429; other users are unaffected', async () => {
    const app = await startTestApp({ ldapUrl: slapd.url, ldapBase: LDAP_BASE, ldapTimeoutMs: 1500 })
    for (let i = 0; i < 5; i++) expect((await login('alice', 'wrong', app)).status).toBe(401)
    const refused = await login('alice', 'alice-password', app)
    expect(refused.status).toBe(429)
    expect(refused.body).toEqual({ code: 429, error: expect.stringContaining('too many failed logins') })
    expect((await login(ODD_UID, 'odd-password', app)).status).toBe(200)
    app.close()
  })

  test('50 wrong passwords at once for one username: 5 reach LDAP (401), the others are 429', async () => {
    const app = await startTestApp({ ldapUrl: slapd.url, ldapBase: LDAP_BASE, ldapTimeoutMs: 1500 })
    const statuses = (await Promise.all(Array.from({ length: 50 }, () => login('alice', 'wrong', app)))).map((r) => r.status)
    expect(statuses.filter((s) => s === 401)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(45)
    expect((await login('alice', 'alice-password', app)).status).toBe(429)
    app.close()
  })

  test('10 right passwords at once for one username all log in', async () => {
    const app = await startTestApp({ ldapUrl: slapd.url, ldapBase: LDAP_BASE, ldapTimeoutMs: 1500 })
    const statuses = (await Promise.all(Array.from({ length: 10 }, () => login('alice', 'alice-password', app)))).map((r) => r.status)
    expect(statuses).toEqual(Array(10).fill(200))
    app.close()
  })

  test(`${PROXIED_USERS} users logging in at once from one address (a front end behind a proxy) all log in`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iceprod-proxied-'))
    const config = loadConfig({ db: join(dir, 'db.sqlite'), port: '0', logLevel: 'silent' }, {
      ICEPROD_JWT_SECRET: TEST_SECRET,
      ICEPROD_LDAP_URL: slapd.url,
      ICEPROD_LDAP_BASE: LDAP_BASE,
      ICEPROD_LDAP_TIMEOUT_MS: '5000',
    })
    copyMigratedDatabase(config.db)
    const server = await startServer(config)
    try {
      const logins = Array.from({ length: PROXIED_USERS }, (_, i) =>
        fetch(`${server.url}/ldap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `proxied${i}`, password: `proxied${i}-password` }) }),
      )
      expect((await Promise.all(logins)).map((r) => r.status)).toEqual(Array(PROXIED_USERS).fill(200))
    } finally {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('logins in flight that succeed or find LDAP unavailable count no failure', async () => {
    const app = await startTestApp({ ldapUrl: slapd.url, ldapBase: LDAP_BASE, ldapTimeoutMs: 1500 })
    const statuses = (await Promise.all(Array.from({ length: 5 }, () => login('alice', 'alice-password', app)))).map((r) => r.status)
    expect(statuses).toEqual([200, 200, 200, 200, 200])
    for (let i = 0; i < 4; i++) expect((await login('alice', 'wrong', app)).status).toBe(401)
    expect((await login('alice', 'alice-password', app)).status).toBe(200)
    app.close()
    const silent = await startSilentServer()
    // One after another, each given up on soon: six unanswered logins, one past the limit.
    const hanging = await startTestApp({ ldapUrl: silent.url, ldapBase: LDAP_BASE, ldapTimeoutMs: 40 })
    for (let i = 0; i < 6; i++) expect((await login('alice', 'x', hanging)).status).toBe(503)
    hanging.close()
    silent.stop()
  })
})
