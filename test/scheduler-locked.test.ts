/**
 * The scheduler's background work while another process holds the
 * database's write lock past ICEPROD_LOCK_TIMEOUT_MS: a materialization
 * step that is refused goes on once the lock is free (the dataset is not
 * dropped), and a timed sweep that is refused is reported and left to the
 * next one, without ending the server. The lock waits, and the pause before
 * a refused step is tried again, run on a timer whose time jumps to each
 * wait's end, so a refusal and the next try come at once.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createApp } from '../src/app'
import type { LockTimer } from '../src/db/write-lock'
import { QueueFixture } from './queue-support'
import { startTestApp, type TestApp } from './support'

/** Every wait ends at once, its time passed. */
class JumpingTimer implements LockTimer {
  private time = 0
  now = () => this.time
  sleep = (ms: number) => {
    this.time += ms
    return Promise.resolve()
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

let writer: TestApp
let scheduled: ReturnType<typeof createApp>
let holder: Database
let datasetId: string
beforeAll(async () => {
  // The dataset and its config are stored with the scheduler off: nothing is made yet.
  writer = await startTestApp({ scheduler: false })
  const f = new QueueFixture(writer)
  datasetId = await f.dataset(undefined, { jobs_submitted: 3 })
  const config = { tasks: [{ name: 'generate' }, { name: 'filter', depends: ['generate'] }] }
  expect((await writer.call('PUT', `/datasets/${datasetId}/config`, { body: config })).status).toBe(200)
  holder = new Database(writer.config.db)
  holder.exec('PRAGMA busy_timeout = 0')
  // A server with the scheduler on starts on the file, and the lock is taken before its first step runs.
  scheduled = createApp({ ...writer.config, scheduler: true, lockTimeoutMs: 100, sweepInterval: 0 }, { lockTimer: new JumpingTimer() })
  holder.exec('BEGIN IMMEDIATE')
})
afterAll(() => {
  if (holder.inTransaction) holder.exec('ROLLBACK')
  holder.close()
  scheduled.close()
  writer.close()
})

const jobs = () => (holder.query('SELECT count(*) AS n FROM jobs').get() as { n: number }).n
const tasks = () => (holder.query('SELECT count(*) AS n FROM tasks').get() as { n: number }).n

test('a timed sweep the lock refuses is reported, not thrown; a sweep asked for directly rejects', async () => {
  await expect(scheduled.scheduler.sweep.runOnTimer()).resolves.toBeUndefined()
  await expect(scheduled.scheduler.sweep.run()).rejects.toThrow('locked')
})

test('materialization refused by the lock goes on once it is free', async () => {
  for (let i = 0; i < 5; i++) await nextTurn()
  // Refused, nothing written, and the dataset still waits for its jobs.
  expect(jobs()).toBe(0)
  holder.exec('ROLLBACK')
  await scheduled.scheduler.materializer.idle()
  expect([jobs(), tasks()]).toEqual([3, 6])
  const made = holder.query("SELECT json_extract(doc, '$.job_index') AS i FROM jobs ORDER BY 1").all() as { i: number }[]
  expect(made.map((row) => row.i)).toEqual([0, 1, 2])
})

/** Lock waits that end only when the test says: its time stands still, so no wait runs out. */
class HeldTimer implements LockTimer {
  private wakers: (() => void)[] = []
  now = () => 0
  sleep = () => new Promise<void>((resolve) => this.wakers.push(resolve))
  /** Waits under way. */
  get waiting(): number {
    return this.wakers.length
  }
  wake() {
    const wakers = this.wakers
    this.wakers = []
    for (const wake of wakers) wake()
  }
}

test('more work asked for while a step waits for the lock is made after that step', async () => {
  const stored = await startTestApp({ scheduler: false })
  const d = await new QueueFixture(stored).dataset(undefined, { jobs_submitted: 1 })
  expect((await stored.call('PUT', `/datasets/${d}/config`, { body: { tasks: [{ name: 'generate' }] } })).status).toBe(200)
  const other = new Database(stored.config.db)
  other.exec('PRAGMA busy_timeout = 0')
  const timer = new HeldTimer()
  const app = createApp({ ...stored.config, scheduler: true, sweepInterval: 0 }, { lockTimer: timer })
  try {
    // The first step (one job to make) finds the lock taken by another process, and waits.
    other.exec('BEGIN IMMEDIATE')
    for (let i = 0; i < 5; i++) await nextTurn()
    expect(timer.waiting).toBe(1)
    // Meanwhile a client asks for a second job: its write waits behind the step's.
    const token = await app.ctx.tokens.sign({ username: 'admin', role: 'admin', groups: [], type: 'user', ttl: 3600 })
    const raised = app.app.handle(
      new Request(`http://localhost/datasets/${d}/jobs_submitted`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ jobs_submitted: 2 }) }),
    )
    for (let i = 0; i < 5; i++) await nextTurn()
    other.exec('ROLLBACK')
    timer.wake()
    expect((await raised).status).toBe(200)
    await app.scheduler.materializer.idle()
    expect((other.query('SELECT count(*) AS n FROM jobs WHERE dataset_id = ?').get(d) as { n: number }).n).toBe(2)
  } finally {
    if (other.inTransaction) other.exec('ROLLBACK')
    other.close()
    app.close()
    stored.close()
  }
})
