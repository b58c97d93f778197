/**
 * Graceful shutdown: SIGTERM lets a request in flight finish with 2xx, refuses
 * new connections, and closes the database leaving no WAL to recover.
 */
import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServerProcess } from './server-process'
import { copyMigratedDatabase } from './support'

const dir = mkdtempSync(join(tmpdir(), 'iceprod-shutdown-'))
const db = join(dir, 'iceprod.sqlite')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Sends a request by hand so that its body can be held back across the SIGTERM. */
async function rawRequest(port: number) {
  let response = ''
  const closed = Promise.withResolvers<void>()
  const continued = Promise.withResolvers<void>()
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: {
      data(_s, data) {
        response += data.toString()
        if (response.startsWith(CONTINUE)) continued.resolve()
      },
      close() {
        closed.resolve()
        continued.reject(new Error(`closed before 100 Continue: ${response}`))
      },
    },
  })
  return { socket, closed: closed.promise, continued: continued.promise, response: () => response }
}

/** The server's interim answer to `Expect: 100-continue`, sent once the app starts reading the body. */
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n'

test('SIGTERM finishes the request in flight, refuses new ones, closes the database cleanly', async () => {
  // A copy of the migrated database: creating and migrating one is the end-to-end test's.
  copyMigratedDatabase(db)
  const server = await startServerProcess(db)
  const token = await server.token('admin')
  const body = JSON.stringify({ name: '/in-flight', padding: 'p'.repeat(100_000) })
  const head = `POST /groups HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`

  // Background load that keeps going until the server refuses it.
  let loadOk = 0
  let loadFailed = 0
  let loadStop = false
  const load = (async () => {
    while (!loadStop) {
      try {
        const r = await fetch(`${server.url}/roles`, { headers: { authorization: `Bearer ${token}` } })
        if (r.status === 200) loadOk++
        else throw new Error(`status ${r.status}`)
      } catch {
        loadFailed++
        await Bun.sleep(5)
      }
    }
  })()

  // The load is being served before the signal.
  for (const deadline = performance.now() + 5000; loadOk === 0; await Bun.sleep(1)) {
    if (performance.now() > deadline) throw new Error(`no load request answered (${loadFailed} failed)`)
  }
  const inFlight = await rawRequest(server.port)
  inFlight.socket.write(head)
  // The request is in flight once the app reads its body: the server then asks for it.
  await inFlight.continued
  inFlight.socket.write(body.slice(0, 50_000))
  server.proc.kill('SIGTERM')

  // New connections are refused (soon after the signal) while the old request is still open.
  let refused = false
  for (const deadline = performance.now() + 5000; !refused && performance.now() < deadline; ) {
    refused = await fetch(`${server.url}/healthz`).then(() => false, () => true)
    if (!refused) await Bun.sleep(10)
  }
  expect(refused).toBe(true)
  expect(server.proc.exitCode).toBeNull()

  inFlight.socket.write(body.slice(50_000))
  await inFlight.closed
  expect(inFlight.response().slice(CONTINUE.length)).toStartWith('HTTP/1.1 201')
  expect(await server.proc.exited).toBe(0)
  loadStop = true
  await load
  expect(loadOk).toBeGreaterThan(0)
  expect(await server.stderrClosed).toContain('stopped')

  const wal = `${db}-wal`
  expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0)

  // The write made in flight is kept: it is in the database the server closed.
  const sqlite = new Database(db, { readonly: true })
  try {
    expect(sqlite.query("SELECT json_extract(doc, '$.name') AS name FROM groups").all()).toContainEqual({ name: '/in-flight' })
  } finally {
    sqlite.close()
  }
}, 60_000)
