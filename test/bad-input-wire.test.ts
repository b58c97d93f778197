/**
 * Body framing lies told over a real socket to the server process
 * (`iceprod-rest serve` with a small ICEPROD_MAX_BODY): a Content-Length
 * over the limit, a chunked body over it, a Content-Length shorter or longer
 * than the body sent. Answers that reach the client must be JSON
 * {code, error}; nothing may be written; the server keeps serving and logs no
 * fault. In-process versions of these cases are in bad-input-transport.test.ts.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServerProcess, type ServerProcess } from './server-process'
import { copyMigratedDatabase } from './support'

// These tests start real servers and run many cases: more than the 5 s default.
setDefaultTimeout(60_000)

const LIMIT = 1024
const GRID = JSON.stringify({ host: 'wire', queues: {}, version: '1' })

let dir: string
let db: string
let server: ServerProcess
let token: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iceprod-wire-'))
  db = join(dir, 'iceprod.sqlite')
  // A copy of the migrated database: creating and migrating one is the end-to-end test's.
  copyMigratedDatabase(db)
  server = await startServerProcess(db, { ICEPROD_MAX_BODY: String(LIMIT) })
  token = await server.token('admin')
})
afterAll(async () => {
  if (server.proc.exitCode === null) {
    server.proc.kill('SIGTERM')
    await server.proc.exited
  }
  rmSync(dir, { recursive: true, force: true })
})

/** Row counts of every table, read from the database file beside the server. */
function tableCounts(): Record<string, number> {
  const reader = new Database(db, { readonly: true })
  try {
    const tables = reader.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]
    return Object.fromEntries(tables.map(({ name }) => [name, (reader.query(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n]))
  } finally {
    reader.close()
  }
}

/** Request head for POST /grids with the given framing headers. */
const head = (framing: string) =>
  `POST /grids HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nConnection: close\r\n${framing}\r\n`

/**
 * Sends `payload` and returns everything the server sent until it closed the
 * connection (every request says `Connection: close`). Then the client:
 * `wait`s, `end`s its sending side (the body stops short), or `abort`s.
 */
function exchange(payload: string, then: 'wait' | 'end' | 'abort' = 'wait'): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(server.port, '127.0.0.1')
    let received = ''
    socket.on('data', (chunk) => (received += chunk.toString('latin1')))
    socket.on('close', () => resolve(received))
    socket.on('error', () => resolve(received))
    socket.write(payload, () => {
      if (then === 'end') socket.end()
      else if (then === 'abort') socket.destroy()
    })
  })
}

interface HttpAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** The first HTTP response in `raw`. */
function firstAnswer(raw: string): HttpAnswer {
  const end = raw.indexOf('\r\n\r\n')
  expect(end).toBeGreaterThan(0)
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n')
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
  const length = Number(headers['content-length'] ?? 0)
  return { status: Number(statusLine!.split(' ')[1]), headers, body: raw.slice(end + 4, end + 4 + length) }
}

function expectJsonError(answer: HttpAnswer, status: number): void {
  expect({ status: answer.status, type: answer.headers['content-type']?.split(';')[0], body: answer.body ? JSON.parse(answer.body) : answer.body }).toEqual({
    status,
    type: 'application/json',
    body: { code: status, error: expect.any(String) },
  })
}

// The body parser, not Bun.serve (whose own 413 is empty), must answer these.
test('a Content-Length over the limit is a JSON 413, and nothing is written', async () => {
  const before = tableCounts()
  expectJsonError(firstAnswer(await exchange(head(`Content-Length: ${100 * LIMIT}\r\n`) + GRID)), 413)
  expect(tableCounts()).toEqual(before)
})

test('a chunked body over the limit is a JSON 413, and nothing is written', async () => {
  const before = tableCounts()
  const body = JSON.stringify({ host: 'x'.repeat(4 * LIMIT), queues: {}, version: '1' })
  expectJsonError(firstAnswer(await exchange(head('Transfer-Encoding: chunked\r\n') + `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`)), 413)
  expect(tableCounts()).toEqual(before)
})

test('a Content-Length one byte over the limit is a JSON 413, and nothing is written', async () => {
  const before = tableCounts()
  const body = JSON.stringify({ host: 'x'.repeat(LIMIT), queues: {}, version: '1' }).slice(0, LIMIT + 1)
  expectJsonError(firstAnswer(await exchange(head(`Content-Length: ${LIMIT + 1}\r\n`) + body)), 413)
  expect(tableCounts()).toEqual(before)
})

test('a Content-Length shorter than the body: the part it covers is read (400, not JSON), nothing is written', async () => {
  const before = tableCounts()
  const answer = firstAnswer(await exchange(head('Content-Length: 5\r\n') + GRID))
  expectJsonError(answer, 400)
  expect(JSON.parse(answer.body).error).toBe('body is not valid JSON')
  expect(tableCounts()).toEqual(before)
})

test('a Content-Length longer than the body, then the client goes away: nothing is written, the server keeps serving', async () => {
  const before = tableCounts()
  await exchange(head('Content-Length: 500\r\n') + GRID, 'abort')
  await exchange(head('Content-Length: 500\r\n') + GRID, 'end')
  // A request on a new connection is answered, and it is the only write.
  const created = firstAnswer(await exchange(head(`Content-Length: ${GRID.length}\r\n`) + GRID))
  expect(created.status).toBe(201)
  expect(tableCounts()).toEqual({ ...before, grids: before.grids! + 1 })
})

test('a body labelled application/x-www-form-urlencoded (Tornado, curl -d) or text/plain is read as JSON', async () => {
  const before = tableCounts()
  for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
    const request = head(`Content-Length: ${GRID.length}\r\n`).replace('Content-Type: application/json', `Content-Type: ${type}`) + GRID
    expect(firstAnswer(await exchange(request)).status).toBe(201)
  }
  expect(tableCounts()).toEqual({ ...before, grids: before.grids! + 2 })
})

test('a GET with a body, JSON or not, is answered as without one', async () => {
  for (const body of [GRID, 'not json at all']) {
    const answer = firstAnswer(
      await exchange(`GET /grids HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`),
    )
    expect(answer.status).toBe(200)
    expect(Object.values(JSON.parse(answer.body)).length).toBeGreaterThan(0)
  }
})

test('a path parameter outside [A-Za-z0-9_] is 404 before the body is read, with or without a token', async () => {
  for (const auth of [`Authorization: Bearer ${token}\r\n`, '']) {
    for (const [method, path] of [['PATCH', '/grids/a.b'], ['PATCH', '/grids/a%2Db'], ['PUT', '/pilots/%FF/tasks']]) {
      const answer = firstAnswer(await exchange(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${auth}Content-Length: ${100 * LIMIT}\r\nConnection: close\r\n\r\n{"broken"`))
      expectJsonError(answer, 404)
      expect(JSON.parse(answer.body)).toEqual({ code: 404, error: 'not found' })
      const get = firstAnswer(await exchange(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n${auth}Connection: close\r\n\r\n`))
      expect(JSON.parse(get.body)).toEqual({ code: 404, error: 'not found' })
    }
  }
})

test('none of the above was a fault: the server logged no internal error', async () => {
  server.proc.kill('SIGTERM')
  await server.proc.exited
  expect(server.stderr()).not.toContain('internal error')
})
