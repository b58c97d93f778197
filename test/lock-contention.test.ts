/**
 * A second process holding the database's write lock (BEGIN IMMEDIATE, as
 * another server or a script would; here the test's own), against a real
 * server process: while it holds it, reads and /healthz are answered and
 * writes wait without holding them up; a write that waits longer than
 * ICEPROD_LOCK_TIMEOUT_MS is 503 with Retry-After and changes nothing; once
 * the lock is free, writes go through.
 * The holder lets go when the test tells it, so nothing here waits on a timer
 * except the server's own short lock timeout in the refusal test.
 */
import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jsonCaller, startServerProcess, type ServerProcess } from './server-process'
import { copyMigratedDatabase } from './support'

const PROCESS_TIMEOUT_MS = 60_000

const dir = mkdtempSync(join(tmpdir(), 'iceprod-lock-'))
const servers: ServerProcess[] = []
afterAll(async () => {
  for (const server of servers) {
    server.proc.kill('SIGTERM')
    await server.proc.exited
  }
  rmSync(dir, { recursive: true, force: true })
})

/**
 * Another process that takes the write lock and holds it until told to let go: this one, the test's, on a
 * connection of its own (SQLite's locks are the file's, between processes).
 */
async function holdWriteLock(db: string) {
  const holder = new Database(db)
  holder.exec('PRAGMA busy_timeout = 10000')
  holder.exec('BEGIN IMMEDIATE')
  return {
    async release() {
      holder.exec('ROLLBACK')
      holder.close()
    },
  }
}

async function start(name: string, lockTimeoutMs: number) {
  const db = join(dir, `${name}.sqlite`)
  // A copy of the migrated database: creating and migrating one is the end-to-end test's.
  copyMigratedDatabase(db)
  const server = await startServerProcess(db, { ICEPROD_LOCK_TIMEOUT_MS: String(lockTimeoutMs) })
  servers.push(server)
  const call = jsonCaller(server.url, await server.token('admin'))
  // A dataset and job to create tasks in (task creations share transactions through the group commit).
  expect((await call('POST', '/groups', { name: '/lock' })).status).toBe(201)
  const dataset = await call('POST', '/datasets', { description: 'lock', jobs_submitted: 1, tasks_submitted: 100, group: '/lock' })
  const datasetId = (dataset.body.result as string).split('/').pop()!
  const jobId = (await call('POST', '/jobs', { dataset_id: datasetId, job_index: 0 })).body.result as string
  const newTask = (taskIndex: number) => ({ dataset_id: datasetId, job_id: jobId, task_index: taskIndex, name: 'lock', depends: [], requirements: {} })
  return { db, server, call, newTask }
}

/** Settles to true once `promise` has settled; lets a test ask whether it has, without waiting. */
function watch(promise: Promise<unknown>) {
  const state = { settled: false }
  void promise.finally(() => (state.settled = true))
  return state
}

test('while another process holds the write lock, reads and /healthz are answered, and waiting writes go through once it lets go', async () => {
  // A lock timeout far longer than the test: the writes must wait, not be refused.
  const { db, server, call, newTask } = await start('waits', 60_000)
  const holder = await holdWriteLock(db)
  let released = false
  try {
    const group = call('POST', '/groups', { name: '/waited' })
    const task = call('POST', '/tasks', newTask(0))
    const writes = [watch(group), watch(task)]
    // Answered while both writes wait for the lock.
    const read = await call('GET', '/groups')
    expect(read.status).toBe(200)
    expect(read.body.results.map((g: { name: string }) => g.name)).not.toContain('/waited')
    const health = await fetch(`${server.url}/healthz`)
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { status: 'ok' } })
    expect((await call('GET', '/datasets')).status).toBe(200)
    expect(writes.map((w) => w.settled)).toEqual([false, false])

    await holder.release()
    released = true
    expect((await group).status).toBe(201)
    expect((await task).status).toBe(201)
  } finally {
    if (!released) await holder.release()
  }
  const names = (await call('GET', '/groups')).body.results.map((g: { name: string }) => g.name)
  expect(names).toContain('/waited')
}, PROCESS_TIMEOUT_MS)

test('a write that waits longer than ICEPROD_LOCK_TIMEOUT_MS is 503 with Retry-After and changes nothing', async () => {
  const { db, call, newTask } = await start('refuses', 200)
  const holder = await holdWriteLock(db)
  let outcomes: Awaited<ReturnType<typeof call>>[]
  try {
    // A single write, a group-committed one, and one of another route that runs in its own transaction.
    outcomes = await Promise.all([call('POST', '/groups', { name: '/refused' }), call('POST', '/tasks', newTask(1)), call('PUT', '/roles/refused', {})])
    // Reads are still answered.
    expect((await call('GET', '/groups')).status).toBe(200)
  } finally {
    await holder.release()
  }
  for (const r of outcomes) {
    expect({ status: r.status, body: r.body, retryAfter: r.headers.get('retry-after') }).toEqual({
      status: 503,
      body: { code: 503, error: 'database is locked by another writer; retry' },
      retryAfter: '1',
    })
  }
  // Nothing of the refused writes is in the database.
  const sqlite = new Database(db, { readonly: true })
  try {
    expect(sqlite.query("SELECT count(*) AS n FROM groups WHERE name = '/refused'").get()).toEqual({ n: 0 })
    expect(sqlite.query('SELECT count(*) AS n FROM tasks WHERE task_index = 1').get()).toEqual({ n: 0 })
    expect(sqlite.query("SELECT count(*) AS n FROM roles WHERE name = 'refused'").get()).toEqual({ n: 0 })
  } finally {
    sqlite.close()
  }
  // The lock is free again: the same writes succeed.
  expect((await call('POST', '/groups', { name: '/refused' })).status).toBe(201)
  expect((await call('POST', '/tasks', newTask(1))).status).toBe(201)
  expect((await call('PUT', '/roles/refused', {})).status).toBe(200)
}, PROCESS_TIMEOUT_MS)
