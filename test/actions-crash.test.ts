/**
 * A bulk action is one transaction (API.md §7.2): a real server process (the
 * compiled binary) killed with SIGKILL in the middle of a bulk reset of
 * 20,000 failed tasks leaves all of it or nothing, and a restart then does
 * all of it. "In the middle" is made sure of: the kill comes once the
 * transaction has spilled uncommitted pages into the write-ahead log, which
 * nothing else writes to meanwhile. After each: the file is sound, the
 * tasks are either all failed (their jobs errors, no history written) or all
 * queued (jobs processing, two history entries each), every maintained count
 * equals a recount and statuses are what the roll-up rules call for.
 */
import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeDatabase, openDatabase } from '../src/db'
import { newId, timestamp } from '../src/db/documents'
import { reasonCode } from '../src/modules/history/reasons'
import { DATASET_STATUSES } from '../src/status'
import { checkCounts, checkRollUp } from './scheduler-support'
import { startServerProcess } from './server-process'

const dir = mkdtempSync(join(tmpdir(), 'iceprod-actions-crash-'))
const db = join(dir, 'iceprod.sqlite')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/**
 * Enough for the transaction to spill uncommitted pages into the WAL (past
 * the 16 MB page cache) long before it commits: the reset writes about 45 MB
 * of WAL and the kill comes at 4 MiB.
 */
const JOBS = 20_000

/** A dataset in errors: each job's generate failed, its filter waits for it. Written through the real schema and its triggers. */
function seed(): string {
  const { sqlite } = openDatabase(db)
  const datasetId = newId()
  const now = timestamp()
  sqlite.transaction(() => {
    sqlite.run("UPDATE sequences SET value = 1 WHERE name = 'dataset'")
    sqlite.run('INSERT INTO datasets (dataset_id, doc) VALUES (?, ?)', [datasetId, JSON.stringify({ dataset_id: datasetId, dataset: 1, description: 'crash', jobs_submitted: JOBS, tasks_submitted: 2 * JOBS, group: '/crash', priority: 0, debug: false, status: 'errors', start_date: now, username: 'admin' })])
    const job = sqlite.prepare('INSERT INTO jobs (job_id, doc) VALUES (?, ?)')
    const task = sqlite.prepare('INSERT INTO tasks (task_id, doc) VALUES (?, ?)')
    for (let j = 0; j < JOBS; j++) {
      const jobId = newId()
      job.run(jobId, JSON.stringify({ job_id: jobId, dataset_id: datasetId, job_index: j, status: 'errors', status_changed: now }))
      const generate = newId()
      const common = { dataset_id: datasetId, job_id: jobId, job_index: j, requirements: { cpu: 1 }, status_changed: now, evictions: 0, walltime: 0, walltime_err: 0, walltime_err_n: 0 }
      task.run(generate, JSON.stringify({ ...common, task_id: generate, task_index: 0, name: 'generate', depends: [], status: 'failed', failures: 11 }))
      const filter = newId()
      task.run(filter, JSON.stringify({ ...common, task_id: filter, task_index: 1, name: 'filter', depends: [generate], status: 'waiting', failures: 0 }))
    }
    // The roll-up stopped the dataset (so that a job processing again reopens it).
    sqlite.run('INSERT INTO status_history (kind, subject, time, from_status, to_status, reason_code) SELECT 0, rowid, 0, ?, ?, ? FROM datasets', [
      DATASET_STATUSES.indexOf('processing'), DATASET_STATUSES.indexOf('errors'), reasonCode('jobs have errors, none processing'),
    ])
  })()
  closeDatabase(sqlite)
  return datasetId
}

/** What the file holds, read in one snapshot: all of the reset, or none of it, and everything consistent. */
function outcome(datasetId: string): 'all' | 'nothing' {
  const sqlite = new Database(db, { readonly: true })
  try {
    return sqlite.transaction(() => {
      expect(sqlite.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
      const byStatus = Object.fromEntries((sqlite.query("SELECT status, count(*) AS n FROM tasks WHERE name = 'generate' GROUP BY status").all() as { status: string; n: number }[]).map((r) => [r.status, r.n]))
      const entries = (sqlite.query('SELECT count(*) AS n FROM status_history WHERE kind = 2').get() as { n: number }).n
      const dataset = (sqlite.query('SELECT status FROM datasets').get() as { status: string }).status
      const jobs = Object.fromEntries((sqlite.query('SELECT status, count(*) AS n FROM jobs GROUP BY status').all() as { status: string; n: number }[]).map((r) => [r.status, r.n]))
      checkCounts(sqlite, datasetId)
      checkRollUp(sqlite, datasetId, JOBS)
      if (byStatus.failed === JOBS) {
        expect({ entries, jobs, dataset }).toEqual({ entries: 0, jobs: { errors: JOBS }, dataset: 'errors' })
        return 'nothing' as const
      }
      expect({ byStatus, entries, jobs, dataset }).toEqual({ byStatus: { queued: JOBS }, entries: 2 * JOBS, jobs: { processing: JOBS }, dataset: 'processing' })
      return 'all' as const
    })()
  } finally {
    sqlite.close()
  }
}

const walBytes = () => statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0

test('kill -9 during a bulk reset of 20,000 tasks leaves all or nothing; after a restart it is done whole', async () => {
  const datasetId = seed()
  expect(outcome(datasetId)).toBe('nothing')

  const server = await startServerProcess(db)
  const token = await server.token('admin')
  const reset = () => fetch(`${server.url}/datasets/${datasetId}/task_actions/bulk_reset`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' })
  const before = walBytes()
  const answered = reset().then((r) => r.status, () => 'killed')
  // Uncommitted pages in the WAL: the transaction has begun and is far from done.
  for (const deadline = Date.now() + 30_000; walBytes() < before + 4 * 2 ** 20; ) {
    if (Date.now() > deadline) throw new Error(`the WAL did not grow (${walBytes()} bytes)`)
    await Bun.sleep(1)
  }
  server.proc.kill('SIGKILL')
  await server.proc.exited
  expect(await answered).toBe('killed')
  expect(outcome(datasetId)).toBe('nothing')

  const again = await startServerProcess(db)
  const r = await fetch(`${again.url}/datasets/${datasetId}/task_actions/bulk_reset`, { method: 'POST', headers: { authorization: `Bearer ${await again.token('admin')}` }, body: '{}' })
  expect(await r.json()).toEqual({ changed: JOBS })
  again.proc.kill('SIGKILL')
  await again.proc.exited
  expect(outcome(datasetId)).toBe('all')
}, 120_000)
