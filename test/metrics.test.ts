/**
 * GET /metrics: Prometheus text with request counts and latency per route
 * template, tasks per dataset and status, pilots and database size; open to
 * loopback clients only, otherwise an admin token.
 * With the scheduler off (ICEPROD_SCHEDULER=off), as a site whose IceProd
 * scheduled tasks drive the server has it; the scheduler's own behaviour is
 * tested in test/scheduler-*.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config'
import { closeDatabase, openDatabase } from '../src/db'
import { startServer } from '../src/server'
import { TEST_SECRET, startTestApp, type TestApp } from './support'

/** Tests here start real processes: allow for a slow, busy machine whatever the default timeout. */
const PROCESS_TIMEOUT_MS = 60_000

/** The value of one sample in Prometheus text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const found: Record<string, string> = {}
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!
    if (Object.keys(labels).length !== Object.keys(found).length) continue
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3])
  }
  return undefined
}

let t: TestApp
beforeAll(async () => {
  t = await startTestApp({ logLevel: 'silent', scheduler: false })
})
afterAll(() => t.close())

const scrape = async () => {
  const r = await t.call('GET', '/metrics')
  expect(r.status).toBe(200)
  return r.text
}

describe('who may read /metrics', () => {
  test('an admin token may, and gets Prometheus text', async () => {
    const r = await t.call('GET', '/metrics')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(r.text).toContain('# TYPE iceprod_http_request_duration_seconds histogram')
  })

  test('without a token and without a known client address: 401 JSON with WWW-Authenticate', async () => {
    const r = await t.call('GET', '/metrics', { token: null })
    expect(r.status).toBe(401)
    expect(r.body).toEqual({ code: 401, error: 'missing Authorization header' })
    expect(r.headers.get('www-authenticate')).toBe('Bearer')
  })

  test('a valid token that is not admin: 403 JSON', async () => {
    for (const role of ['user', 'system', 'client', 'pilot']) {
      const r = await t.call('GET', '/metrics', { token: await t.token(role) })
      expect(r.status).toBe(403)
      expect(r.body).toEqual({ code: 403, error: 'not allowed' })
    }
  })

  test('a bad token is 401', async () => {
    const r = await t.call('GET', '/metrics', { token: 'not.a.token' })
    expect(r.status).toBe(401)
  })

  test('loopback clients need no token; other addresses and proxied requests do', async () => {
    const other = await startTestApp({ logLevel: 'silent' })
    try {
      let address: string | undefined
      other.clientAddresses.use(() => address)
      for (address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
        expect({ address, status: (await other.call('GET', '/metrics', { token: null })).status }).toEqual({ address, status: 200 })
      }
      for (address of ['10.0.0.7', '192.168.1.2', '::ffff:10.0.0.7', 'fe80::1', '128.0.0.1']) {
        expect({ address, status: (await other.call('GET', '/metrics', { token: null })).status }).toEqual({ address, status: 401 })
      }
      address = '127.0.0.1'
      for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
        const r = await other.call('GET', '/metrics', { token: null, headers: { [header]: '203.0.113.9' } })
        expect({ header, status: r.status }).toEqual({ header, status: 401 })
      }
    } finally {
      other.close()
    }
  })
})

describe('request metrics', () => {
  test('are counted per route template, method and status, never per raw path', async () => {
    const missing = ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210']
    for (const id of missing) expect((await t.call('GET', `/tasks/${id}`)).status).toBe(404)
    expect((await t.call('GET', '/tasks/abc', { token: null })).status).toBe(401)
    expect((await t.call('GET', '/no/such/route')).status).toBe(404)
    expect((await t.call('GET', '/another/unknown')).status).toBe(404)
    expect((await t.call('POST', '/groups', { body: '{not json' })).status).toBe(400)

    const text = await scrape()
    const labels = (route: string, status: string, method = 'GET') => ({ method, route, status })
    expect(sample(text, 'iceprod_http_requests_total', labels('/tasks/:task_id', '404'))).toBe(2)
    expect(sample(text, 'iceprod_http_requests_total', labels('/tasks/:task_id', '401'))).toBe(1)
    expect(sample(text, 'iceprod_http_requests_total', labels('unmatched', '404'))).toBe(2)
    expect(sample(text, 'iceprod_http_requests_total', labels('/groups', '400', 'POST'))).toBe(1)
    expect(sample(text, 'iceprod_http_request_duration_seconds_count', labels('/tasks/:task_id', '404'))).toBe(2)
    expect(sample(text, 'iceprod_http_request_duration_seconds_bucket', { le: '+Inf', ...labels('/tasks/:task_id', '404') })).toBe(2)
    expect(sample(text, 'iceprod_http_request_duration_seconds_sum', labels('/tasks/:task_id', '404'))).toBeGreaterThan(0)
    for (const raw of [...missing, '/no/such/route', '/another/unknown', '/tasks/abc']) expect(text).not.toContain(raw)
  })

  test('durations run from the start of handling: the body read, or else the route\'s guard, public or not; 0 without a route', async () => {
    expect((await t.call('GET', '/healthz', { token: null })).status).toBe(200)
    expect((await t.call('POST', '/groups', { body: '{"name": "unfinished' })).status).toBe(400)
    expect((await t.call('GET', '/still/no/route')).status).toBe(404)
    const text = await scrape()
    const sum = (route: string, status: string, method: string) => sample(text, 'iceprod_http_request_duration_seconds_sum', { method, route, status })
    // A public route: marked by its guard.
    expect(sum('/healthz', '200', 'GET')).toBeGreaterThan(0)
    // A body that does not parse never reaches the guard: marked by the body parser.
    expect(sum('/groups', '400', 'POST')).toBeGreaterThan(0)
    // No route: nothing marked, counted as 0.
    expect(sum('unmatched', '404', 'GET')).toBe(0)
  })

  test('buckets are cumulative and end with the count', async () => {
    const text = await scrape()
    const key = { method: 'GET', route: '/tasks/:task_id', status: '404' }
    const bounds = [...text.matchAll(/iceprod_http_request_duration_seconds_bucket\{le="([^"]+)",method="GET",route="\/tasks\/:task_id",status="404"\} (\S+)/g)]
    expect(bounds.length).toBe(15)
    const counts = bounds.map((m) => Number(m[2]))
    for (let i = 1; i < counts.length; i++) expect(counts[i]!).toBeGreaterThanOrEqual(counts[i - 1]!)
    expect(bounds.at(-1)![1]).toBe('+Inf')
    expect(counts.at(-1)).toBe(sample(text, 'iceprod_http_request_duration_seconds_count', key)!)
  })

  test('the request counter keeps counting across scrapes', async () => {
    const before = sample(await scrape(), 'iceprod_http_requests_total', { method: 'GET', route: '/healthz', status: '200' }) ?? 0
    for (let i = 0; i < 3; i++) await t.call('GET', '/healthz', { token: null })
    const middle = sample(await scrape(), 'iceprod_http_requests_total', { method: 'GET', route: '/healthz', status: '200' })
    await t.call('GET', '/healthz', { token: null })
    const after = sample(await scrape(), 'iceprod_http_requests_total', { method: 'GET', route: '/healthz', status: '200' })
    expect([middle, after]).toEqual([before + 3, before + 4])
  })

  test('unknown methods share one label', async () => {
    await t.call('PROPFIND', '/healthz', { token: null })
    const text = await scrape()
    expect(text).not.toContain('PROPFIND')
  })
})

describe('state metrics, read from the database when scraped', () => {
  test('tasks by dataset and status follow the task_counts table', async () => {
    expect((await t.call('POST', '/groups', { body: { name: '/metrics-sim' } })).status).toBe(201)
    const created = await t.call('POST', '/datasets', { body: { description: 'm', jobs_submitted: 1, tasks_submitted: 3, group: '/metrics-sim' } })
    expect(created.status).toBe(201)
    const datasetId = (created.body.result as string).split('/').pop()!
    const jobId = (await t.call('POST', '/jobs', { body: { dataset_id: datasetId, job_index: 0 } })).body.result
    const taskIds: string[] = []
    for (let i = 0; i < 3; i++) {
      const r = await t.call('POST', '/tasks', { body: { dataset_id: datasetId, job_id: jobId, task_index: i, name: `t${i}`, depends: [], requirements: {} } })
      expect(r.status).toBe(201)
      taskIds.push(r.body.result)
    }
    expect((await t.call('PUT', `/tasks/${taskIds[0]}/status`, { body: { status: 'suspended' } })).status).toBe(200)

    const text = await scrape()
    expect(sample(text, 'iceprod_tasks', { dataset_id: datasetId, status: 'waiting' })).toBe(2)
    expect(sample(text, 'iceprod_tasks', { dataset_id: datasetId, status: 'suspended' })).toBe(1)
    const rows = t.ctx.sqlite.query('SELECT status, n FROM task_counts WHERE dataset_id = ?').all(datasetId) as { status: string; n: number }[]
    for (const row of rows) expect(sample(text, 'iceprod_tasks', { dataset_id: datasetId, status: row.status })).toBe(row.n)
  })

  test('pilots count', async () => {
    const before = sample(await scrape(), 'iceprod_pilots')
    expect(before).toBe(t.count('pilots'))
    for (let i = 0; i < 2; i++) {
      const r = await t.call('POST', '/pilots', { body: { queue_host: 'ce', queue_version: '1', resources: {} } })
      expect(r.status).toBe(201)
    }
    expect(sample(await scrape(), 'iceprod_pilots')).toBe(before! + 2)
  })

  test('database size: page_count * page_size, and the WAL file', async () => {
    const text = await scrape()
    const { page_count } = t.ctx.sqlite.query('PRAGMA page_count').get() as { page_count: number }
    const { page_size } = t.ctx.sqlite.query('PRAGMA page_size').get() as { page_size: number }
    expect(sample(text, 'iceprod_database_bytes', { file: 'main' })).toBe(page_count * page_size)
    expect(sample(text, 'iceprod_database_bytes', { file: 'wal' })).toBe(statSync(`${t.config.db}-wal`).size)
    expect(page_count * page_size).toBeGreaterThan(0)
  })

  test('build info and process metrics', async () => {
    const text = await scrape()
    expect(text).toMatch(/^iceprod_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m)
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0)
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0)
  })
})

test('the OpenAPI document describes /metrics', async () => {
  const doc = await t.call('GET', '/openapi/json', { token: null })
  const op = doc.body.paths['/metrics']?.get
  expect(op).toBeDefined()
  expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '401', '403']))
  expect(op.responses['200'].content).toHaveProperty(['text/plain'])
})

test('a real server lets a loopback client read /metrics without a token, not a proxied one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-metrics-'))
  const config = { ...loadConfig({ db: join(dir, 'iceprod.sqlite'), port: '0' }, { ICEPROD_JWT_SECRET: TEST_SECRET }), logLevel: 'silent' as const }
  // An existing database, so that no first-start admin token is printed.
  closeDatabase(openDatabase(config.db).sqlite)
  const server = await startServer(config)
  try {
    const open = await fetch(`${server.url}/metrics`)
    expect(open.status).toBe(200)
    expect(await open.text()).toContain('iceprod_pilots 0')
    const proxied = await fetch(`${server.url}/metrics`, { headers: { 'x-forwarded-for': '198.51.100.4' } })
    expect(proxied.status).toBe(401)
    expect(proxied.headers.get('x-request-id')).toBeTruthy()
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}, PROCESS_TIMEOUT_MS)
