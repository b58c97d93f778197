/**
 * The queue action (API.md 4.5.1) against a model of it written here, with
 * the scheduler off and on: random datasets, weights, jobs and tasks (of
 * every status, waiting for earlier tasks, complete or not, or for a task
 * that does not exist), each run on an empty database, then one action with
 * a random `num_tasks`. It must queue exactly the model's first `num_tasks`
 * ready waiting tasks (heavier datasets first, then creation order), leave
 * every other task as it was, write one entry by the caller for each task
 * queued and no other, with the scheduler reopen each stopped job it gave an
 * active task (one server entry each), and leave every maintained count
 * equal to a recount. The tasks are written straight into the database
 * (their triggers keep the counts), since with the scheduler on a ready task
 * made through the API is queued at once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { newId, timestamp } from '../src/db/documents'
import { KIND_CODES } from '../src/modules/history/queries'
import { reasonCode } from '../src/modules/history/reasons'
import { JOB_STATUSES, TASK_STATUSES } from '../src/status'
import { historyOf, steps } from './history-support'
import { databaseRestorer, QueueFixture } from './queue-support'
import { checkCounts, checkRollUp } from './scheduler-support'
import { FakeClock, startTestApp, type TestApp } from './support'

const caller = { username: 'queuer', role: 'client' }
const STOPPED = ['complete', 'errors', 'suspended']

interface TaskState {
  rowid: number
  task_id: string
  dataset_id: string
  job_id: string
  status: string
  doc: string
}
interface JobState {
  rowid: number
  job_id: string
  status: string
}
interface Entry {
  kind: number
  subject: number
  time: number
  from_status: number
  to_status: number
  username: string | null
  role: string | null
  reason_code: number | null
  reason: string | null
}

const scenario = fc.record({
  datasets: fc.integer({ min: 1, max: 4 }),
  /** Per dataset, its weight in dataset_prio, or none (it weighs 0). */
  weights: fc.array(fc.option(fc.constantFrom(-1, 0, 1, 2.5), { nil: undefined }), { minLength: 4, maxLength: 4 }),
  /** Per job (two per dataset), the status it is given. */
  jobStatuses: fc.array(fc.constantFrom('processing', 'processing', 'suspended', 'errors', 'complete'), { minLength: 8, maxLength: 8 }),
  tasks: fc.array(
    fc.record({
      dataset: fc.nat({ max: 3 }),
      job: fc.nat({ max: 1 }),
      status: fc.constantFrom('waiting', 'waiting', 'waiting', 'waiting', 'complete', 'complete', 'failed', 'queued', 'suspended', 'processing'),
      /** Earlier tasks of the scenario it waits for (by position, modulo how many there are), or -1: a task that does not exist. */
      depends: fc.array(fc.integer({ min: -1, max: 40 }), { maxLength: 2 }),
    }),
    // Up to the whole 25 (fast-check's default size stops near 10): a run no longer adds to the tasks of the runs before.
    { minLength: 1, maxLength: 25, size: 'max' },
  ),
  /** Mostly fewer than are ready, so that which ones are chosen matters. */
  numTasks: fc.nat({ max: 8 }),
})
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never

for (const scheduler of [false, true]) {
  describe(`with the scheduler ${scheduler ? 'on' : 'off'}`, () => {
    let t: TestApp
    let f: QueueFixture
    const clock = new FakeClock()
    let restore: () => void
    beforeAll(async () => {
      t = await startTestApp({ scheduler, logLevel: 'error' }, {}, { clock: clock.now })
      restore = databaseRestorer(t)
    })
    afterAll(() => t.close())

    const tasks = () => t.ctx.sqlite.query('SELECT rowid, task_id, dataset_id, job_id, status, doc FROM tasks ORDER BY rowid').all() as TaskState[]
    const jobs = () => t.ctx.sqlite.query('SELECT rowid, job_id, status FROM jobs ORDER BY rowid').all() as JobState[]
    const lastEntry = () => (t.ctx.sqlite.query('SELECT coalesce(max(entry), 0) AS n FROM status_history').get() as { n: number }).n
    const entriesAfter = (entry: number) =>
      t.ctx.sqlite
        .query('SELECT kind, subject, time, from_status, to_status, username, role, reason_code, reason FROM status_history WHERE entry > ? ORDER BY kind, subject')
        .all(entry) as Entry[]

    /** The scenario's datasets, jobs and tasks; returns the datasets and the weights sent. */
    async function build(s: Scenario): Promise<{ datasets: string[]; weights: Record<string, number> }> {
      const datasets: string[] = []
      const weights: Record<string, number> = {}
      const jobIds: { job_id: string; job_index: number }[] = []
      for (let d = 0; d < s.datasets; d++) {
        const datasetId = await f.dataset()
        datasets.push(datasetId)
        if (s.weights[d] !== undefined) weights[datasetId] = s.weights[d]!
        for (const [j, jobId] of (await f.jobs(datasetId, 2)).entries()) {
          const job = t.ctx.sqlite.query("SELECT json_extract(doc, '$.job_index') AS job_index FROM jobs WHERE job_id = ?").get(jobId) as { job_index: number }
          jobIds.push({ job_id: jobId, job_index: job.job_index })
          t.ctx.sqlite.query("UPDATE jobs SET doc = json_set(doc, '$.status', ?) WHERE job_id = ?").run(s.jobStatuses[2 * d + j]!, jobId)
        }
      }
      const made: string[] = []
      const insert = t.ctx.sqlite.query('INSERT INTO tasks (task_id, doc) VALUES (?, ?)')
      // In one transaction: one commit, not one per task.
      t.ctx.sqlite.transaction(() => s.tasks.forEach((task, i) => {
        const d = task.dataset % s.datasets
        const job = jobIds[2 * d + task.job]!
        const depends = [...new Set(task.depends.filter((k) => k === -1 || i > 0).map((k) => (k === -1 ? newId() : made[k % i]!)))]
        const taskId = newId()
        const doc = { task_id: taskId, dataset_id: datasets[d], job_id: job.job_id, job_index: job.job_index, task_index: i, name: `t${i}`, status: task.status,
          status_changed: timestamp(clock.now() - 60_000), depends, requirements: {}, failures: 0, evictions: 0, walltime: 0, walltime_err: 0, walltime_err_n: 0 }
        insert.run(taskId, JSON.stringify(doc))
        made.push(taskId)
      }))()
      return { datasets, weights }
    }

    /** The model: every ready waiting task (each task it waits for exists and is complete), heavier datasets first, then creation order; the first `n`. */
    function modelChoice(before: TaskState[], weights: Record<string, number>, n: number): TaskState[] {
      const byId = new Map(before.map((task) => [task.task_id, task]))
      const weight = (task: TaskState) => (Object.hasOwn(weights, task.dataset_id) ? weights[task.dataset_id]! : 0)
      const ready = before.filter(
        (task) => task.status === 'waiting' && (JSON.parse(task.doc).depends as string[]).every((id) => byId.get(id)?.status === 'complete'),
      )
      return ready.sort((a, b) => weight(b) - weight(a) || a.rowid - b.rowid).slice(0, n)
    }

    test('queues the ready waiting tasks the model chooses, with their history, roll-up and counts', async () => {
      const token = await t.token('client', { username: caller.username })
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          // Each run on the empty database the app started on: a run's outcome is its scenario's alone, as shrinking needs.
          restore()
          f = new QueueFixture(t)
          const { datasets, weights } = await build(s)
          clock.advance(1000)
          const before = tasks()
          const jobsBefore = jobs()
          const datasetsBefore = t.ctx.sqlite.query('SELECT dataset_id, status FROM datasets ORDER BY rowid').all()
          const chosen = modelChoice(before, weights, s.numTasks)
          const entry = lastEntry()

          const r = await t.call('POST', '/task_actions/queue', { token, body: { num_tasks: s.numTasks, dataset_prio: weights } })
          expect(r.status).toBe(200)
          expect(r.body).toEqual({ queued: chosen.length })

          const queued = new Set(chosen.map((task) => task.task_id))
          const after = new Map(tasks().map((task) => [task.task_id, task]))
          const now = timestamp(clock.now())
          // Every task checked at once (one expect per task costs more than the action on hundreds of tasks): the others' documents unchanged, byte for byte.
          const untouched = before.filter((task) => !queued.has(task.task_id))
          expect(untouched.filter((task) => after.get(task.task_id)!.doc !== task.doc).map((task) => ({ task: task.task_id, doc: after.get(task.task_id)!.doc }))).toEqual([])
          expect(chosen.map((task) => ({ task: task.task_id, doc: JSON.parse(after.get(task.task_id)!.doc) }))).toEqual(
            chosen.map((task) => ({ task: task.task_id, doc: { ...JSON.parse(task.doc), status: 'queued', status_changed: now } })),
          )

          // With the scheduler, a stopped job given a queued task is processing again; every other job stays.
          const reopened = scheduler ? new Set(chosen.map((task) => task.job_id)) : new Set<string>()
          const jobsAfter = new Map(jobs().map((job) => [job.job_id, job.status]))
          expect(jobsBefore.map((job) => ({ job: job.job_id, status: jobsAfter.get(job.job_id) }))).toEqual(
            jobsBefore.map((job) => ({ job: job.job_id, status: reopened.has(job.job_id) && STOPPED.includes(job.status) ? 'processing' : job.status })),
          )
          // Nothing here stops a dataset, nor was one stopped: they stay as they were.
          expect(t.ctx.sqlite.query('SELECT dataset_id, status FROM datasets ORDER BY rowid').all()).toEqual(datasetsBefore)

          const time = clock.now() * 1000
          const taskEntries: Entry[] = chosen.map((task) => ({
            kind: KIND_CODES.task, subject: task.rowid, time, from_status: TASK_STATUSES.indexOf('waiting'), to_status: TASK_STATUSES.indexOf('queued'),
            username: caller.username, role: caller.role, reason_code: null, reason: null,
          }))
          const jobEntries: Entry[] = jobsBefore
            .filter((job) => reopened.has(job.job_id) && STOPPED.includes(job.status))
            .map((job) => ({
              kind: KIND_CODES.job, subject: job.rowid, time, from_status: JOB_STATUSES.indexOf(job.status as never), to_status: JOB_STATUSES.indexOf('processing'),
              username: null, role: null, reason_code: reasonCode('a task is active again'), reason: null,
            }))
          const bySubject = (a: Entry, b: Entry) => a.kind - b.kind || a.subject - b.subject
          expect(entriesAfter(entry)).toEqual([...jobEntries, ...taskEntries].sort(bySubject))

          checkCounts(t.ctx.sqlite)
        }),
        { numRuns: 60 },
      )
    }, 120_000)
  })
}

describe('with the scheduler on, the roll-up', () => {
  let t: TestApp
  let f: QueueFixture
  beforeAll(async () => {
    t = await startTestApp({ logLevel: 'error' })
    f = new QueueFixture(t)
  })
  afterAll(() => t.close())

  test('a job and a dataset the server stopped are processing again once a task of theirs is queued, each with its entry', async () => {
    const datasetId = await f.dataset(undefined, { jobs_submitted: 1 })
    const jobId = await f.job(datasetId)
    const first = await f.task(datasetId, {}, jobId)
    expect((await t.call('PUT', `/tasks/${first}/status`, { body: { status: 'suspended' } })).status).toBe(200)
    expect((await t.call('GET', `/jobs/${jobId}`)).body.status).toBe('suspended')
    expect((await t.call('GET', `/datasets/${datasetId}`)).body.status).toBe('suspended')
    // A ready task waiting in the stopped job, as one written while the scheduler was off is.
    const second = newId()
    const job = (await t.call('GET', `/jobs/${jobId}`)).body
    t.ctx.sqlite.query('INSERT INTO tasks (task_id, doc) VALUES (?, ?)').run(second, JSON.stringify({
      task_id: second, dataset_id: datasetId, job_id: jobId, job_index: job.job_index, task_index: 1, name: 'second', status: 'waiting',
      status_changed: timestamp(), depends: [], requirements: {}, failures: 0,
    }))

    const token = await t.token('client', { username: caller.username })
    expect((await t.call('POST', '/task_actions/queue', { token, body: {} })).body).toEqual({ queued: 1 })
    expect((await t.call('GET', `/tasks/${second}`)).body.status).toBe('queued')
    expect(await historyOf(t, datasetId, 'tasks', second)).toEqual([{ time: expect.any(String), from: 'waiting', to: 'queued', by: caller }])
    expect((await historyOf(t, datasetId, 'jobs', jobId)).slice(-1)).toEqual([{ time: expect.any(String), from: 'suspended', to: 'processing', by: 'server', reason: 'a task is active again' }])
    expect(steps(await historyOf(t, datasetId))).toEqual(['processing>suspended', 'suspended>processing'])
    expect((await historyOf(t, datasetId)).at(-1)).toMatchObject({ by: 'server', reason: 'a job is processing again' })
    checkCounts(t.ctx.sqlite, datasetId)
    checkRollUp(t.ctx.sqlite, datasetId, 1)
    // The queue row is its processing job's: a pilot gets the task.
    expect((await t.call('POST', '/task_actions/process', { token: await t.token('pilot'), body: { requirements: { cpu: 1, memory: 1, disk: 10, time: 1 } } })).body.task_id).toBe(second)
  })
})
