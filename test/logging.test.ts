/**
 * The request log: one JSON line per request (request id, method, route
 * template, status, duration, username, role), the id echoed in X-Request-Id on
 * every response, faults through the same log, and never a token or a body.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createApp } from '../src/app'
import { loadConfig, type Config } from '../src/config'
import type { LogOutput } from '../src/observability/logger'
import { builtBinary } from './binary'
import { streamText } from './server-process'
import { copyMigratedDatabase, TEST_SECRET } from './support'

/** Tests here start real processes: allow for a slow, busy machine whatever the default timeout. */
const PROCESS_TIMEOUT_MS = 60_000

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A real app on a real database file whose log lines are kept in memory. */
async function startLoggedApp(overrides: Partial<Config> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-logging-'))
  dirs.push(dir)
  const db = join(dir, 'iceprod.sqlite')
  const config = { ...loadConfig({ db }, { ICEPROD_JWT_SECRET: TEST_SECRET }), ...overrides }
  if (config.db === db) copyMigratedDatabase(db)
  const lines: string[] = []
  const output: LogOutput = { destination: { write: (line: string) => void lines.push(line) }, flush: async () => {} }
  const built = createApp(config, { logOutput: output })
  const token = (role: string, username = `${role}-7`) => built.ctx.tokens.sign({ username, role, groups: [], type: 'user', ttl: 3600 })
  const adminToken = await token('admin', 'root')
  const call = (method: string, path: string, init: { token?: string | null; body?: string; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...init.headers }
    const bearer = init.token === undefined ? adminToken : init.token
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`
    if (init.body !== undefined) headers['content-type'] ??= 'application/json'
    return built.app.handle(new Request(`http://localhost${path}`, { method, headers, body: init.body }))
  }
  /** Every line is one JSON object. Request lines wait to be written in batches: flushed first. */
  const records = () => (void built.flushLogs(), lines).join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
  const requestLines = () => records().filter((r) => r.msg === 'request')
  return { built, config, lines, records, requestLines, call, token, adminToken }
}

describe('request lines', () => {
  test('one line per request: id, method, route template, status, duration, username, role', async () => {
    const app = await startLoggedApp()
    const before = Date.now()
    const ok = await app.call('GET', '/roles')
    const missing = await app.call('GET', '/tasks/0123456789abcdef0123456789abcdef', { token: await app.token('pilot') })
    const anonymous = await app.call('GET', '/healthz', { token: null })
    const after = Date.now()
    expect([ok.status, missing.status, anonymous.status]).toEqual([200, 404, 200])

    const lines = app.requestLines()
    expect(lines).toHaveLength(3)
    expect(lines[0]).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      msg: 'request',
      request_id: ok.headers.get('x-request-id'),
      method: 'GET',
      route: '/roles',
      status: 200,
      duration_ms: expect.any(Number),
      username: 'root',
      role: 'admin',
    })
    expect(lines[0]!.duration_ms as number).toBeGreaterThanOrEqual(0)
    // The time is when the request finished, on the wall clock, though lines are written later.
    const time = Date.parse(lines[0]!.time as string)
    expect(time).toBeGreaterThanOrEqual(before)
    expect(time).toBeLessThanOrEqual(Date.parse(lines[2]!.time as string))
    expect(Date.parse(lines[2]!.time as string)).toBeLessThanOrEqual(after)
    expect(lines[1]).toMatchObject({ request_id: missing.headers.get('x-request-id'), route: '/tasks/:task_id', status: 404, username: 'pilot-7', role: 'pilot' })
    expect(lines[2]).toMatchObject({ route: '/healthz', status: 200, username: null, role: null })
    app.built.close()
  })

  test('a request that matches no route is logged under the fixed route "unmatched", not its path', async () => {
    const app = await startLoggedApp()
    const r = await app.call('DELETE', '/private/area/42?x=1')
    expect(r.status).toBe(404)
    expect(app.requestLines()).toEqual([expect.objectContaining({ method: 'DELETE', route: 'unmatched', status: 404, request_id: r.headers.get('x-request-id') })])
    expect(app.lines.join('')).not.toContain('/private')
    app.built.close()
  })

  test('lines are written in batches of 512 without waiting for the timer, and none is lost or out of order', async () => {
    const app = await startLoggedApp()
    const ids: string[] = []
    for (let i = 0; i < 1100; i++) ids.push((await app.call('GET', '/healthz', { token: null })).headers.get('x-request-id')!)
    // Two full batches reached the output at once; the last 76 lines wait for the timer or a flush.
    expect(app.lines.join('').split('\n').filter(Boolean)).toHaveLength(1024)
    expect(app.requestLines().map((l) => l.request_id)).toEqual(ids)
    app.built.close()
  })

  test('the level is respected: warn logs no request lines, silent logs nothing', async () => {
    for (const logLevel of ['warn', 'error', 'silent'] as const) {
      const app = await startLoggedApp({ logLevel })
      expect((await app.call('GET', '/roles')).status).toBe(200)
      expect((await app.call('GET', '/nowhere')).status).toBe(404)
      expect({ logLevel, lines: app.lines }).toEqual({ logLevel, lines: [] })
      app.built.close()
    }
  })
})

describe('X-Request-Id', () => {
  test('is on every response, errors and 404s included, and is different for each request', async () => {
    const app = await startLoggedApp({ maxBody: 1000 })
    const pilot = await app.token('pilot')
    const cases: [string, string, Parameters<typeof app.call>[2], number][] = [
      ['GET', '/', { token: null }, 200],
      ['POST', '/groups', { body: JSON.stringify({ name: '/logging' }) }, 201],
      ['POST', '/groups', { body: '{"name":' }, 400],
      ['POST', '/groups', { body: JSON.stringify({ name: '/logging-text' }), headers: { 'content-type': 'text/plain' } }, 201],
      ['POST', '/groups', { body: '' }, 400],
      ['POST', '/groups', { body: JSON.stringify({ name: 'x'.repeat(2000) }) }, 413],
      ['GET', '/roles', { token: null }, 401],
      ['GET', '/roles', { token: 'garbage' }, 401],
      ['GET', '/roles', { token: pilot }, 403],
      ['GET', '/groups/nosuchgroup', {}, 404],
      ['GET', '/no/such/route', {}, 404],
      ['GET', '/openapi/json', { token: null }, 200],
      ['GET', '/metrics', {}, 200],
    ]
    const responses: Response[] = []
    for (const [method, path, init] of cases) responses.push(await app.call(method, path, init))
    // Read only once every response exists: each keeps its own id, whatever came after it.
    const ids: string[] = []
    for (const [i, [method, path, , status]] of cases.entries()) {
      const id = responses[i]!.headers.get('x-request-id')
      expect({ method, path, status: responses[i]!.status, id }).toEqual({ method, path, status, id: expect.stringMatching(/^[0-9a-z]{1,11}$/) })
      ids.push(id!)
    }
    expect(new Set(ids).size).toBe(cases.length)
    expect(app.requestLines().map((l) => [l.request_id, l.status])).toEqual(cases.map(([, , , status], i) => [ids[i], status]))
    app.built.close()
  })

  test('a request id sent by the client is not taken over', async () => {
    const app = await startLoggedApp()
    const r = await app.call('GET', '/', { token: null, headers: { 'x-request-id': 'client-chosen' } })
    expect(r.headers.get('x-request-id')).not.toBe('client-chosen')
    app.built.close()
  })
})

describe('what is never logged', () => {
  test('no token, no Authorization header, no body, no query string', async () => {
    const app = await startLoggedApp()
    const secret = 'hunter2-do-not-log'
    const userToken = await app.token('user')
    await app.call('POST', '/ldap', { token: userToken, body: JSON.stringify({ username: 'alice', password: secret }) })
    await app.call('POST', '/groups', { body: JSON.stringify({ name: '/body-marker', note: secret }) })
    await app.call('GET', `/roles?token=${secret}`, { token: 'not-a-valid-token-but-secret-anyway' })
    await app.call('GET', '/roles')
    const text = app.lines.join('')
    expect(app.requestLines()).toHaveLength(4)
    for (const leak of [secret, userToken, app.adminToken, 'not-a-valid-token', '/body-marker', 'alice', 'Bearer']) expect(text).not.toContain(leak)
    expect(text.toLowerCase()).not.toContain('authorization')
    app.built.close()
  })
})

describe('faults', () => {
  test('a route fault is a 500 without detail, and one error line with the request id goes through the same log', async () => {
    const app = await startLoggedApp()
    // A real fault: the route's query runs against a database that has gone away.
    app.built.ctx.sqlite.close()
    const r = await app.call('GET', '/groups')
    expect(r.status).toBe(500)
    expect(await r.json()).toEqual({ code: 500, error: 'internal server error' })
    const id = r.headers.get('x-request-id')
    const records = app.records()
    const fault = records.find((l) => l.msg === 'internal error')
    expect(fault).toMatchObject({ level: 'error', request_id: id, err: { message: expect.any(String), stack: expect.any(String) } })
    expect(records.filter((l) => l.msg === 'request')).toEqual([expect.objectContaining({ request_id: id, status: 500, route: '/groups' })])
  })

  test('faults are logged at level warn, not at silent', async () => {
    for (const [logLevel, expected] of [['warn', 1], ['silent', 0]] as const) {
      const app = await startLoggedApp({ logLevel })
      app.built.ctx.sqlite.close()
      expect((await app.call('GET', '/groups')).status).toBe(500)
      expect({ logLevel, faults: app.records().filter((l) => l.msg === 'internal error').length }).toEqual({ logLevel, faults: expected })
    }
  })
})

test('the server writes its log lines to stderr soon after each request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-logging-proc-'))
  dirs.push(dir)
  const env = { ...process.env, ICEPROD_JWT_SECRET: TEST_SECRET, ICEPROD_LOG_LEVEL: 'info' }
  const proc = Bun.spawn([resolve(await builtBinary()), 'serve', '--port', '0', '--db', join(dir, 'iceprod.sqlite')], { env, stdout: 'ignore', stderr: 'pipe' })
  const stderr = streamText(proc.stderr as ReadableStream<Uint8Array>)
  // Soon: within 5 s.
  const waitFor = (pattern: RegExp) => stderr.until(pattern, 5_000)
  try {
    const url = (await waitFor(/listening on (http:\/\/\S+)/))[1]!
    const r = await fetch(`${url}/healthz`)
    expect(r.status).toBe(200)
    const id = r.headers.get('x-request-id')!
    const line = (await waitFor(new RegExp(`^\\{.*"request_id":"${id}".*\\}$`, 'm')))[0]
    expect(JSON.parse(line)).toMatchObject({ msg: 'request', route: '/healthz', status: 200 })
    // The first-start admin token is printed for the operator, and never inside a log line.
    const token = (await waitFor(/admin token[^\n]*\n(\S+)\n/))[1]!
    for (const jsonLine of stderr.text().split('\n').filter((l) => l.startsWith('{'))) expect(jsonLine).not.toContain(token)
  } finally {
    proc.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    await stderr.closed
  }
}, PROCESS_TIMEOUT_MS)
