/**
 * Roll-up (API.md §6.5) with the scheduler on: jobs follow their tasks and
 * datasets their jobs, in the transaction of the task change; a complete task
 * that runs again sends its queued dependents back to waiting; the per-job
 * counts the roll-up reads stay equal to a recount.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { expectChain, historyOf, steps } from './history-support'
import { QueueFixture } from './queue-support'
import { startTestApp, type TestApp } from './support'

let t: TestApp
let f: QueueFixture
beforeAll(async () => {
  t = await startTestApp()
  f = new QueueFixture(t)
})
afterAll(() => t.close())

const setStatus = (taskId: string, status: string) => t.call('PUT', `/tasks/${taskId}/status`, { body: { status } })
const jobStatus = async (jobId: string) => (await t.call('GET', `/jobs/${jobId}`)).body.status as string
const datasetStatus = async (datasetId: string) => (await t.call('GET', `/datasets/${datasetId}`)).body.status as string

/** A dataset of `jobs` jobs (its jobs_submitted) with tasks generate → filter → hist each. */
async function pipeline(jobs: number, extra: Record<string, unknown> = {}) {
  const datasetId = await f.dataset(undefined, { jobs_submitted: jobs, ...extra })
  const made: { jobId: string; generate: string; filter: string; hist: string }[] = []
  for (let i = 0; i < jobs; i++) {
    const jobId = await f.job(datasetId)
    const generate = await f.task(datasetId, { name: 'generate' }, jobId)
    const filter = await f.task(datasetId, { name: 'filter', depends: [generate] }, jobId)
    const hist = await f.task(datasetId, { name: 'hist', depends: [filter] }, jobId)
    made.push({ jobId, generate, filter, hist })
  }
  return { datasetId, jobs: made }
}

describe('jobs follow their tasks', () => {
  test('all complete → complete, and a dataset whose jobs all exist and are complete → complete', async () => {
    const { datasetId, jobs } = await pipeline(2)
    for (const job of jobs) {
      for (const task of [job.generate, job.filter, job.hist]) await setStatus(task, 'complete')
    }
    expect(await jobStatus(jobs[0]!.jobId)).toBe('complete')
    const jobHistory = await historyOf(t, datasetId, 'jobs', jobs[0]!.jobId)
    expect(jobHistory).toEqual([{ time: expect.any(String), from: 'processing', to: 'complete', by: 'server', reason: 'all tasks complete' }])
    expect(await datasetStatus(datasetId)).toBe('complete')
    expect(await historyOf(t, datasetId)).toEqual([{ time: expect.any(String), from: 'processing', to: 'complete', by: 'server', reason: 'all jobs complete' }])
  })

  test('a failed generate makes the job errors although its filter still waits; the dataset follows', async () => {
    const { datasetId, jobs } = await pipeline(1)
    const job = jobs[0]!
    await setStatus(job.generate, 'failed')
    expect(await f.status(job.filter)).toBe('waiting')
    expect(await jobStatus(job.jobId)).toBe('errors')
    expect((await historyOf(t, datasetId, 'jobs', job.jobId)).at(-1)).toMatchObject({ to: 'errors', reason: 'tasks failed, none active' })
    expect(await datasetStatus(datasetId)).toBe('errors')
    expect((await historyOf(t, datasetId)).at(-1)).toMatchObject({ from: 'processing', to: 'errors', reason: 'jobs have errors, none processing' })
  })

  test('blocking is transitive: hist waits on filter, which waits on a suspended generate', async () => {
    const { jobs } = await pipeline(2)
    await setStatus(jobs[0]!.generate, 'suspended')
    expect(await jobStatus(jobs[0]!.jobId)).toBe('suspended')
    expect(await jobStatus(jobs[1]!.jobId)).toBe('processing')
  })

  test('a waiting task that can still run keeps its job processing', async () => {
    const datasetId = await f.dataset()
    const jobId = await f.job(datasetId)
    const a = await f.task(datasetId, { name: 'a' }, jobId)
    const b = await f.task(datasetId, { name: 'b' }, jobId)
    const c = await f.task(datasetId, { name: 'c', depends: [b] }, jobId)
    await setStatus(b, 'processing')
    await setStatus(a, 'failed')
    expect(await f.status(c)).toBe('waiting')
    expect(await jobStatus(jobId)).toBe('processing')
  })

  test('a task of another job waiting on a failed task is blocked too', async () => {
    const datasetId = await f.dataset(undefined, { jobs_submitted: 2 })
    const first = await f.job(datasetId)
    const second = await f.job(datasetId)
    const upstream = await f.task(datasetId, { name: 'up' }, first)
    await f.task(datasetId, { name: 'down', depends: [upstream] }, second)
    await setStatus(upstream, 'failed')
    expect(await jobStatus(first)).toBe('errors')
    expect(await jobStatus(second)).toBe('errors')
    expect(await datasetStatus(datasetId)).toBe('errors')
  })

  test('a task active again puts its job back to processing, and the dataset the roll-up stopped too', async () => {
    const { datasetId, jobs } = await pipeline(1)
    const job = jobs[0]!
    await setStatus(job.generate, 'failed')
    expect(await datasetStatus(datasetId)).toBe('errors')
    await setStatus(job.generate, 'waiting')
    expect(await f.status(job.generate)).toBe('queued')
    expect(await jobStatus(job.jobId)).toBe('processing')
    expect((await historyOf(t, datasetId, 'jobs', job.jobId)).at(-1)).toMatchObject({ from: 'errors', to: 'processing', by: 'server', reason: 'a task is active again' })
    expect(await datasetStatus(datasetId)).toBe('processing')
    const datasetHistory = await historyOf(t, datasetId)
    expect(steps(datasetHistory)).toEqual(['processing>errors', 'errors>processing'])
    expect(datasetHistory[1]).toMatchObject({ by: 'server', reason: 'a job is processing again' })
    expectChain(datasetHistory, 'processing')
  })

  test('a new task in a complete job puts it back to processing', async () => {
    const datasetId = await f.dataset(undefined, { jobs_submitted: 2 })
    const jobId = await f.job(datasetId)
    await setStatus(await f.task(datasetId, {}, jobId), 'complete')
    expect(await jobStatus(jobId)).toBe('complete')
    await f.task(datasetId, {}, jobId)
    expect(await jobStatus(jobId)).toBe('processing')
  })

  test('a job whose new task waits for a failed or suspended task is stopped, and its dataset follows', async () => {
    for (const [blocking, stopped] of [['failed', 'errors'], ['suspended', 'suspended']] as const) {
      const datasetId = await f.dataset(undefined, { jobs_submitted: 2 })
      const first = await f.job(datasetId)
      const upstream = await f.task(datasetId, { name: 'up' }, first)
      await setStatus(upstream, blocking)
      expect(await jobStatus(first)).toBe(stopped)
      const second = await f.job(datasetId)
      const down = await f.task(datasetId, { name: 'down', depends: [upstream] }, second)
      expect(await f.status(down)).toBe('waiting')
      expect({ blocking, job: await jobStatus(second), dataset: await datasetStatus(datasetId) }).toEqual({ blocking, job: stopped, dataset: stopped })
      expect((await historyOf(t, datasetId, 'jobs', second)).at(-1)).toMatchObject({ from: 'processing', to: stopped, by: 'server' })
    }
  })

  test('materialized jobs whose tasks wait for an existing failed task are stopped', async () => {
    const elsewhere = await f.dataset()
    const failed = await f.task(elsewhere, { name: 'failed' })
    await setStatus(failed, 'failed')
    const datasetId = await f.dataset(undefined, { jobs_submitted: 2 })
    const config = { tasks: [{ name: 'first', depends: [failed] }, { name: 'second', depends: ['first'] }] }
    expect((await t.call('PUT', `/datasets/${datasetId}/config`, { body: config })).status).toBe(200)
    await t.scheduler.materializer.idle()
    expect((await t.call('GET', `/datasets/${datasetId}/job_counts/status`)).body).toEqual({ errors: 2 })
    expect(await datasetStatus(datasetId)).toBe('errors')
  })

  test("a PATCH of a waiting task's depends queues it when it is ready now, and moves its job and the jobs waiting on it as it can run or not", async () => {
    const datasetId = await f.dataset(undefined, { jobs_submitted: 3 })
    const [first, second, third] = [await f.job(datasetId), await f.job(datasetId), await f.job(datasetId)]
    const upstream = await f.task(datasetId, { name: 'up' }, first)
    const task = await f.task(datasetId, { name: 'task', depends: [upstream] }, second)
    await f.task(datasetId, { name: 'down', depends: [task] }, third)
    const patch = (body: Record<string, unknown>) => t.call('PATCH', `/tasks/${task}`, { body })
    const jobs = async () => [await jobStatus(first), await jobStatus(second), await jobStatus(third)]
    await setStatus(upstream, 'failed')
    expect(await jobs()).toEqual(['errors', 'errors', 'errors'])

    // Nothing to wait for: queued, and the jobs it held are processing again.
    expect((await patch({ depends: [] })).body.status).toBe('queued')
    expect((await historyOf(t, datasetId, 'tasks', task)).at(-1)).toMatchObject({ from: 'waiting', to: 'queued', by: 'server', reason: 'no dependencies' })
    expect(await jobs()).toEqual(['errors', 'processing', 'processing'])
    // Waiting for the failed task again: both stop again.
    expect((await patch({ status: 'waiting', depends: [upstream] })).body.status).toBe('waiting')
    expect(await jobs()).toEqual(['errors', 'errors', 'errors'])
    // Waiting for a task that can run: active again, still waiting.
    const other = await f.task(datasetId, { name: 'other' }, first)
    expect((await patch({ depends: [other] })).body.status).toBe('waiting')
    expect(await jobs()).toEqual(['processing', 'processing', 'processing'])
    expect(await datasetStatus(datasetId)).toBe('processing')
  })

  test('a complete task that runs again sends its queued dependents back to waiting', async () => {
    const { datasetId, jobs } = await pipeline(1)
    const job = jobs[0]!
    await setStatus(job.generate, 'complete')
    expect(await f.status(job.filter)).toBe('queued')
    await setStatus(job.generate, 'waiting')
    expect(await f.status(job.generate)).toBe('queued')
    expect(await f.status(job.filter)).toBe('waiting')
    const filterHistory = await historyOf(t, datasetId, 'tasks', job.filter)
    expect(steps(filterHistory)).toEqual(['waiting>queued', 'queued>waiting'])
    expect(filterHistory[1]).toMatchObject({ by: 'server', reason: 'a dependency runs again' })
  })
})

describe('datasets follow their jobs', () => {
  test('a processing dataset with jobs still to make does not complete; a truncated one does', async () => {
    const { datasetId, jobs } = await pipeline(1, { jobs_submitted: 5 })
    for (const task of [jobs[0]!.generate, jobs[0]!.filter, jobs[0]!.hist]) await setStatus(task, 'complete')
    expect(await jobStatus(jobs[0]!.jobId)).toBe('complete')
    expect(await datasetStatus(datasetId)).toBe('processing')

    const truncated = await pipeline(1, { jobs_submitted: 5 })
    await t.call('PUT', `/datasets/${truncated.datasetId}/status`, { body: { status: 'truncated' } })
    for (const task of [truncated.jobs[0]!.generate, truncated.jobs[0]!.filter, truncated.jobs[0]!.hist]) await setStatus(task, 'complete')
    expect(await datasetStatus(truncated.datasetId)).toBe('complete')
  })

  test('none processing, none with errors → suspended; a dataset a client suspended stays so', async () => {
    const { datasetId, jobs } = await pipeline(2)
    await setStatus(jobs[0]!.generate, 'suspended')
    await setStatus(jobs[1]!.generate, 'suspended')
    expect(await datasetStatus(datasetId)).toBe('suspended')
    expect((await historyOf(t, datasetId)).at(-1)).toMatchObject({ by: 'server', reason: 'jobs stopped, none processing' })

    const held = await pipeline(1)
    await t.call('PUT', `/datasets/${held.datasetId}/status`, { body: { status: 'suspended' } })
    await setStatus(held.jobs[0]!.generate, 'failed')
    expect(await datasetStatus(held.datasetId)).toBe('suspended')
    await setStatus(held.jobs[0]!.generate, 'waiting')
    expect(await jobStatus(held.jobs[0]!.jobId)).toBe('processing')
    expect(await datasetStatus(held.datasetId)).toBe('suspended')
  })

  test('a dataset a client sets truncated or processing follows its jobs at once, as the dataset actions do', async () => {
    const reasonsOf = async (datasetId: string) => (await historyOf(t, datasetId)).map((e) => `${e.from}>${e.to} ${e.by === 'server' ? e.reason : 'client'}`)
    const done = async (job: { generate: string; filter: string; hist: string }) => {
      for (const task of [job.generate, job.filter, job.hist]) await setStatus(task, 'complete')
    }
    // Jobs still to make hold it processing; truncated, its one job is all there is.
    const truncated = await pipeline(1, { jobs_submitted: 5 })
    await done(truncated.jobs[0]!)
    expect(await datasetStatus(truncated.datasetId)).toBe('processing')
    expect((await t.call('PUT', `/datasets/${truncated.datasetId}/status`, { body: { status: 'truncated' } })).status).toBe(200)
    expect(await datasetStatus(truncated.datasetId)).toBe('complete')
    expect(await reasonsOf(truncated.datasetId)).toEqual(['processing>truncated client', 'truncated>complete all jobs complete'])

    // A suspended dataset's jobs finished meanwhile: set processing again, it is complete.
    const resumed = await pipeline(1)
    await t.call('PUT', `/datasets/${resumed.datasetId}/status`, { body: { status: 'suspended' } })
    await done(resumed.jobs[0]!)
    expect(await datasetStatus(resumed.datasetId)).toBe('suspended')
    await t.call('PUT', `/datasets/${resumed.datasetId}/status`, { body: { status: 'processing' } })
    expect(await datasetStatus(resumed.datasetId)).toBe('complete')
    expect(await reasonsOf(resumed.datasetId)).toEqual(['processing>suspended client', 'suspended>processing client', 'processing>complete all jobs complete'])
    expectChain(await historyOf(t, resumed.datasetId), 'complete')
  })

  test('jobs_submitted lowered to the jobs that exist: the dataset follows them', async () => {
    const { datasetId, jobs } = await pipeline(2, { jobs_submitted: 3 })
    for (const job of jobs) for (const task of [job.generate, job.filter, job.hist]) await setStatus(task, 'complete')
    expect(await datasetStatus(datasetId)).toBe('processing')
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: 2 } })).status).toBe(200)
    expect(await datasetStatus(datasetId)).toBe('complete')
    expect((await historyOf(t, datasetId)).at(-1)).toMatchObject({ from: 'processing', to: 'complete', by: 'server', reason: 'all jobs complete' })
    // Raised again: reopened for the job to make, and it stays processing.
    await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: 3 } })
    expect(await datasetStatus(datasetId)).toBe('processing')
    expect((await historyOf(t, datasetId)).at(-1)).toMatchObject({ from: 'complete', to: 'processing', by: 'server', reason: 'more jobs to make' })
  })

  test('a job status set by a client rolls its dataset up too', async () => {
    const { datasetId, jobs } = await pipeline(1)
    await t.call('PUT', `/datasets/${datasetId}/jobs/${jobs[0]!.jobId}/status`, { body: { status: 'complete' } })
    expect(await datasetStatus(datasetId)).toBe('complete')
  })
})

describe('a dataset the roll-up stopped keeps following its jobs', () => {
  const reasonsOf = async (datasetId: string) => (await historyOf(t, datasetId)).map((e) => `${e.from}>${e.to} ${e.by === 'server' ? e.reason : 'client'}`)

  test('errors → suspended when the failed job is suspended, then processing again when a job runs', async () => {
    const { datasetId, jobs } = await pipeline(2)
    await setStatus(jobs[0]!.generate, 'failed')
    await setStatus(jobs[1]!.generate, 'suspended')
    expect(await datasetStatus(datasetId)).toBe('errors')
    await setStatus(jobs[0]!.generate, 'suspended')
    expect(await jobStatus(jobs[0]!.jobId)).toBe('suspended')
    expect(await datasetStatus(datasetId)).toBe('suspended')
    await setStatus(jobs[0]!.generate, 'waiting')
    expect(await jobStatus(jobs[0]!.jobId)).toBe('processing')
    expect(await datasetStatus(datasetId)).toBe('processing')
    expect(await reasonsOf(datasetId)).toEqual([
      'processing>errors jobs have errors, none processing',
      'errors>suspended jobs stopped, none processing',
      'suspended>processing a job is processing again',
    ])
    expectChain(await historyOf(t, datasetId), 'processing')
  })

  test('errors → complete when the failed task is completed after all', async () => {
    const { datasetId, jobs } = await pipeline(1)
    const job = jobs[0]!
    for (const task of [job.generate, job.filter]) await setStatus(task, 'complete')
    await setStatus(job.hist, 'failed')
    expect(await datasetStatus(datasetId)).toBe('errors')
    await setStatus(job.hist, 'complete')
    expect(await jobStatus(job.jobId)).toBe('complete')
    expect(await datasetStatus(datasetId)).toBe('complete')
    expect(await reasonsOf(datasetId)).toEqual(['processing>errors jobs have errors, none processing', 'errors>complete all jobs complete'])
  })

  test('suspended → errors when a suspended task fails; complete → errors when a complete task is set failed', async () => {
    const held = await pipeline(1)
    await setStatus(held.jobs[0]!.generate, 'suspended')
    expect(await datasetStatus(held.datasetId)).toBe('suspended')
    await setStatus(held.jobs[0]!.generate, 'failed')
    expect(await jobStatus(held.jobs[0]!.jobId)).toBe('errors')
    expect(await datasetStatus(held.datasetId)).toBe('errors')
    expect(await reasonsOf(held.datasetId)).toEqual(['processing>suspended jobs stopped, none processing', 'suspended>errors jobs have errors, none processing'])

    const done = await pipeline(1)
    for (const task of [done.jobs[0]!.generate, done.jobs[0]!.filter, done.jobs[0]!.hist]) await setStatus(task, 'complete')
    expect(await datasetStatus(done.datasetId)).toBe('complete')
    await setStatus(done.jobs[0]!.hist, 'failed')
    expect(await jobStatus(done.jobs[0]!.jobId)).toBe('errors')
    expect(await datasetStatus(done.datasetId)).toBe('errors')
    // And back through every stopped status: the failed task completes again.
    await setStatus(done.jobs[0]!.hist, 'complete')
    expect(await datasetStatus(done.datasetId)).toBe('complete')
    expectChain(await historyOf(t, done.datasetId), 'complete')
  })

  test('a job status set by a client moves a stopped dataset too', async () => {
    const { datasetId, jobs } = await pipeline(1)
    await setStatus(jobs[0]!.generate, 'failed')
    expect(await datasetStatus(datasetId)).toBe('errors')
    await t.call('PUT', `/datasets/${datasetId}/jobs/${jobs[0]!.jobId}/status`, { body: { status: 'suspended' } })
    expect(await datasetStatus(datasetId)).toBe('suspended')
  })

  test('a truncated dataset the roll-up stopped goes back to truncated, not processing', async () => {
    const { datasetId, jobs } = await pipeline(2, { jobs_submitted: 5 })
    await t.call('PUT', `/datasets/${datasetId}/status`, { body: { status: 'truncated' } })
    await setStatus(jobs[0]!.generate, 'failed')
    await setStatus(jobs[1]!.generate, 'failed')
    expect(await datasetStatus(datasetId)).toBe('errors')
    await setStatus(jobs[0]!.generate, 'suspended')
    await setStatus(jobs[1]!.generate, 'suspended')
    expect(await datasetStatus(datasetId)).toBe('suspended')
    await setStatus(jobs[1]!.generate, 'waiting')
    expect(await datasetStatus(datasetId)).toBe('truncated')
    expect((await reasonsOf(datasetId)).slice(1)).toEqual([
      'truncated>errors jobs have errors, none processing',
      'errors>suspended jobs stopped, none processing',
      'suspended>truncated a job is processing again',
    ])
  })

  test('a dataset a client set errors, suspended or complete stays so whatever its jobs do', async () => {
    for (const status of ['errors', 'suspended', 'complete']) {
      const { datasetId, jobs } = await pipeline(1)
      expect((await t.call('PUT', `/datasets/${datasetId}/status`, { body: { status } })).status).toBe(200)
      await setStatus(jobs[0]!.generate, 'failed')
      await setStatus(jobs[0]!.generate, 'suspended')
      for (const task of [jobs[0]!.generate, jobs[0]!.filter, jobs[0]!.hist]) await setStatus(task, 'complete')
      expect(await jobStatus(jobs[0]!.jobId)).toBe('complete')
      expect({ status, now: await datasetStatus(datasetId) }).toEqual({ status, now: status })
      expect(await reasonsOf(datasetId)).toEqual([`processing>${status} client`])
    }
  })
})

describe('per-job task counts', () => {
  test('equal a recount after any mix of inserts, status changes and deletes, whatever statement made them', () => {
    const db = t.ctx.sqlite
    const statuses = ['idle', 'waiting', 'queued', 'processing', 'reset', 'suspended', 'failed', 'complete']
    let seed = 11
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n
    const insert = (i: number) =>
      db.query('INSERT INTO tasks (task_id, doc) VALUES (?, ?)').run(`count-${i}`, JSON.stringify({ task_id: `count-${i}`, dataset_id: 'counts', job_id: `job-${random(5)}`, status: statuses[random(8)] }))
    for (let i = 0; i < 60; i++) insert(i)
    for (let step = 0; step < 500; step++) {
      const id = `count-${random(80)}`
      const action = random(12)
      // Each statement prepared once (Database.run prepares it, with the triggers, at every call), each write its own transaction.
      if (action === 0) db.query('DELETE FROM tasks WHERE task_id = ?').run(id)
      else if (action === 1) insert(60 + random(20))
      else if (action === 2) db.query(`UPDATE tasks SET doc = json_set(doc, '$.job_id', ?) WHERE task_id = ?`).run(`job-${random(5)}`, id)
      else db.query(`UPDATE tasks SET doc = json_set(doc, '$.status', ?) WHERE task_id = ?`).run(statuses[random(8)]!, id)
    }
    const columns = statuses.map((s) => `"${s}"`).join(', ')
    const maintained = db.query(`SELECT job_id, ${columns} FROM job_task_counts WHERE job_id LIKE 'job-%' ORDER BY job_id`).all()
    const recount = db
      .query(`SELECT job_id, ${statuses.map((s) => `sum(status IS '${s}') AS "${s}"`).join(', ')} FROM tasks WHERE dataset_id = 'counts' GROUP BY job_id ORDER BY job_id`)
      .all()
    expect(maintained).toEqual(recount)
    expect(recount.length).toBe(5)
  })
})
