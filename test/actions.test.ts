/**
 * Operator actions (API.md §7.2) with the scheduler on: the bulk task, job
 * and dataset actions change what they say, count what they changed as
 * §7.2 counts it, write each step to the history (the client's change, then
 * the server's), roll jobs and datasets up, and leave every maintained count
 * equal to a recount. Bad filters change nothing, not even the valid tasks
 * named beside them.
 */
import { afterAll, beforeAll, describe, expect, spyOn, test } from 'bun:test'
import { expectChain, historyOf, steps } from './history-support'
import { QueueFixture } from './queue-support'
import { checkCounts, checkRollUp } from './scheduler-support'
import { startTestApp, type TestApp } from './support'

let t: TestApp
let f: QueueFixture
let writer: string
beforeAll(async () => {
  t = await startTestApp({ logLevel: 'error' })
  f = new QueueFixture(t)
})
afterAll(() => t.close())

const admin = { username: 'admin', role: 'admin' }

/** A dataset of `jobs` jobs (its jobs_submitted), each with tasks generate → filter. */
async function pipeline(jobs: number, extra: Record<string, unknown> = {}) {
  const datasetId = await f.dataset(undefined, { jobs_submitted: jobs, ...extra })
  const made: { jobId: string; generate: string; filter: string }[] = []
  for (let i = 0; i < jobs; i++) {
    const jobId = await f.job(datasetId)
    const generate = await f.task(datasetId, { name: 'generate', requirements: { cpu: 1 } }, jobId)
    const filter = await f.task(datasetId, { name: 'filter', depends: [generate], requirements: { cpu: 1 } }, jobId)
    made.push({ jobId, generate, filter })
  }
  return { datasetId, jobs: made }
}

const act = (datasetId: string, action: string, body: unknown = {}, token?: string) =>
  t.call('POST', `/datasets/${datasetId}/${action}`, { body, token })
const setStatus = (taskId: string, status: string) => t.call('PUT', `/tasks/${taskId}/status`, { body: { status } })
const taskDoc = async (taskId: string) => (await t.call('GET', `/tasks/${taskId}`)).body
/** Claims with `offer` until none fits: the tasks handed out, as `<dataset_id>/<name>`. */
async function claimAll(offer: Record<string, unknown>): Promise<string[]> {
  const pilot = await t.token('pilot')
  const datasets: string[] = []
  for (;;) {
    const r = await t.call('POST', '/task_actions/process', { body: { requirements: offer }, token: pilot })
    if (r.status === 404) return datasets
    expect(r.status).toBe(200)
    datasets.push(`${r.body.dataset_id}/${r.body.name}`)
  }
}
const status = async (kind: 'jobs' | 'tasks' | 'datasets', id: string) => (await t.call('GET', `/${kind}/${id}`)).body.status as string

/** Counts equal a recount, statuses are what the roll-up rules call for, and every history chain ends at the current status. */
async function expectConsistent(datasetId: string, jobsSubmitted: number) {
  checkCounts(t.ctx.sqlite, datasetId)
  checkRollUp(t.ctx.sqlite, datasetId, jobsSubmitted)
  const tasks = t.ctx.sqlite.query('SELECT task_id, status FROM tasks WHERE dataset_id = ?').all(datasetId) as { task_id: string; status: string }[]
  for (const task of tasks) expectChain(await historyOf(t, datasetId, 'tasks', task.task_id), task.status, task.task_id)
  const jobs = t.ctx.sqlite.query('SELECT job_id, status FROM jobs WHERE dataset_id = ?').all(datasetId) as { job_id: string; status: string }[]
  for (const job of jobs) expectChain(await historyOf(t, datasetId, 'jobs', job.job_id), job.status, job.job_id)
  expectChain(await historyOf(t, datasetId), await status('datasets', datasetId))
}

describe('task actions', () => {
  test('bulk_suspend: every task not complete is suspended, complete and suspended ones are not counted; jobs and the dataset roll up', async () => {
    const { datasetId, jobs } = await pipeline(3)
    await setStatus(jobs[0]!.generate, 'complete')
    await setStatus(jobs[1]!.generate, 'suspended')
    await setStatus(jobs[2]!.generate, 'processing')
    // 6 tasks: 1 complete, 1 suspended already, 4 to suspend (the processing one too).
    expect((await act(datasetId, 'task_actions/bulk_suspend')).body).toEqual({ changed: 4 })
    expect(await status('tasks', jobs[0]!.generate)).toBe('complete')
    for (const job of jobs) expect(await status('tasks', job.filter)).toBe('suspended')
    expect(await status('tasks', jobs[2]!.generate)).toBe('suspended')
    for (const job of jobs) expect(await status('jobs', job.jobId)).toBe('suspended')
    expect(steps(await historyOf(t, datasetId))).toEqual(['processing>suspended'])
    expect((await historyOf(t, datasetId, 'tasks', jobs[2]!.generate)).at(-1)).toEqual({ time: expect.any(String), from: 'processing', to: 'suspended', by: admin })
    // Nothing left to suspend.
    expect((await act(datasetId, 'task_actions/bulk_suspend')).body).toEqual({ changed: 0 })
    await expectConsistent(datasetId, 3)
  })

  test('bulk_reset: failed and suspended tasks wait again with their failures, and are queued at once when ready', async () => {
    const { datasetId, jobs } = await pipeline(2)
    await t.call('PATCH', `/tasks/${jobs[0]!.generate}`, { body: { failures: 4 } })
    await setStatus(jobs[0]!.generate, 'failed')
    await setStatus(jobs[1]!.generate, 'suspended')
    expect(await status('jobs', jobs[0]!.jobId)).toBe('errors')
    expect(await status('datasets', datasetId)).toBe('errors')
    expect((await act(datasetId, 'task_actions/bulk_reset')).body).toEqual({ changed: 2 })
    const reset = await taskDoc(jobs[0]!.generate)
    expect([reset.status, reset.failures]).toEqual(['queued', 4])
    expect((await historyOf(t, datasetId, 'tasks', jobs[0]!.generate)).slice(-2)).toEqual([
      { time: expect.any(String), from: 'failed', to: 'waiting', by: admin },
      { time: expect.any(String), from: 'waiting', to: 'queued', by: 'server', reason: 'no dependencies' },
    ])
    for (const job of jobs) expect(await status('jobs', job.jobId)).toBe('processing')
    expect(steps(await historyOf(t, datasetId))).toEqual(['processing>errors', 'errors>processing'])
    expect((await act(datasetId, 'task_actions/bulk_reset')).body).toEqual({ changed: 0 })
    await expectConsistent(datasetId, 2)
  })

  test('bulk_hard_reset: every task waits again with 0 failures, complete ones run again and their queued dependents wait; waiting and queued tasks with 0 failures are not counted', async () => {
    const { datasetId, jobs } = await pipeline(3)
    // job 0: generate complete, filter queued (ready). job 1: generate queued with 2 failures. job 2: untouched (generate queued, filter waiting).
    await setStatus(jobs[0]!.generate, 'complete')
    expect(await status('tasks', jobs[0]!.filter)).toBe('queued')
    await t.call('PATCH', `/tasks/${jobs[1]!.generate}`, { body: { failures: 2 } })
    const queuedBefore = (await historyOf(t, datasetId, 'tasks', jobs[1]!.generate)).length
    expect((await act(datasetId, 'task_actions/bulk_hard_reset')).body).toEqual({ changed: 2 })
    expect(await status('tasks', jobs[0]!.generate)).toBe('queued')
    expect(steps((await historyOf(t, datasetId, 'tasks', jobs[0]!.generate)).slice(-2))).toEqual(['complete>waiting', 'waiting>queued'])
    expect(await status('tasks', jobs[0]!.filter)).toBe('waiting')
    expect((await historyOf(t, datasetId, 'tasks', jobs[0]!.filter)).at(-1)).toEqual({ time: expect.any(String), from: 'queued', to: 'waiting', by: 'server', reason: 'a dependency runs again' })
    // Failures back to 0, the status (and its history) unchanged.
    const kept = await taskDoc(jobs[1]!.generate)
    expect([kept.status, kept.failures]).toEqual(['queued', 0])
    expect((await historyOf(t, datasetId, 'tasks', jobs[1]!.generate)).length).toBe(queuedBefore)
    await expectConsistent(datasetId, 3)
  })

  test('bulk_hard_reset: a queued task with failures whose dependency runs again keeps no place in the queue', async () => {
    const { datasetId, jobs } = await pipeline(1)
    const { generate, filter } = jobs[0]!
    await setStatus(generate, 'complete')
    await t.call('PATCH', `/tasks/${filter}`, { body: { failures: 1 } })
    expect(await status('tasks', filter)).toBe('queued')
    expect((await act(datasetId, 'task_actions/bulk_hard_reset')).body).toEqual({ changed: 2 })
    expect([await status('tasks', generate), await status('tasks', filter), (await taskDoc(filter)).failures]).toEqual(['queued', 'waiting', 0])
    expect((await historyOf(t, datasetId, 'tasks', filter)).at(-1)).toMatchObject({ from: 'queued', to: 'waiting', by: 'server', reason: 'a dependency runs again' })
    await expectConsistent(datasetId, 1)
  })

  test('bulk_status/reset: each task moves on as a reset does (§6.3), each step its own entry', async () => {
    const { datasetId, jobs } = await pipeline(3, { max_failures: 2 })
    await t.call('PATCH', `/tasks/${jobs[0]!.generate}`, { body: { failures: 3 } })
    expect((await act(datasetId, 'task_actions/bulk_status/reset', { name: 'generate' })).body).toEqual({ changed: 3 })
    expect(await status('tasks', jobs[0]!.generate)).toBe('failed')
    expect((await historyOf(t, datasetId, 'tasks', jobs[0]!.generate)).slice(-2)).toEqual([
      { time: expect.any(String), from: 'queued', to: 'reset', by: admin },
      { time: expect.any(String), from: 'reset', to: 'failed', by: 'server', reason: 'failures exceed max_failures' },
    ])
    expect(await status('jobs', jobs[0]!.jobId)).toBe('errors')
    expect(await status('tasks', jobs[1]!.generate)).toBe('queued')
    expect(steps((await historyOf(t, datasetId, 'tasks', jobs[1]!.generate)).slice(-3))).toEqual(['queued>reset', 'reset>waiting', 'waiting>queued'])
    await expectConsistent(datasetId, 3)

    const debug = await pipeline(1, { debug: true })
    expect((await act(debug.datasetId, 'task_actions/bulk_status/reset', { status: ['queued'] })).body).toEqual({ changed: 1 })
    expect(await status('tasks', debug.jobs[0]!.generate)).toBe('suspended')
    expect((await historyOf(t, debug.datasetId, 'tasks', debug.jobs[0]!.generate)).at(-1)).toMatchObject({ from: 'reset', to: 'suspended', reason: 'dataset in debug mode' })
    await expectConsistent(debug.datasetId, 1)
  })

  test('bulk_status/complete: dependents are queued when ready; jobs and the dataset complete', async () => {
    const { datasetId, jobs } = await pipeline(2)
    expect((await act(datasetId, 'task_actions/bulk_status/complete', { name: 'generate' })).body).toEqual({ changed: 2 })
    for (const job of jobs) {
      expect(await status('tasks', job.filter)).toBe('queued')
      expect((await historyOf(t, datasetId, 'tasks', job.filter)).at(-1)).toMatchObject({ from: 'waiting', to: 'queued', by: 'server', reason: 'dependencies complete' })
    }
    expect((await act(datasetId, 'task_actions/bulk_status/complete')).body).toEqual({ changed: 2 })
    for (const job of jobs) expect(await status('jobs', job.jobId)).toBe('complete')
    expect(await status('datasets', datasetId)).toBe('complete')
    await expectConsistent(datasetId, 2)
  })

  test('the filters combine: task_ids, status and name select together', async () => {
    const { datasetId, jobs } = await pipeline(3)
    await setStatus(jobs[0]!.generate, 'complete')
    const ids = [jobs[0]!.generate, jobs[0]!.filter, jobs[1]!.generate, jobs[1]!.filter, jobs[0]!.generate]
    // Of the named tasks, the queued ones named filter: job 0's filter only (job 1's still waits).
    expect((await act(datasetId, 'task_actions/bulk_status/idle', { task_ids: ids, status: ['queued'], name: 'filter' })).body).toEqual({ changed: 1 })
    expect(await status('tasks', jobs[0]!.filter)).toBe('idle')
    expect((await act(datasetId, 'task_actions/bulk_status/idle', { task_ids: [], status: ['queued'] })).body).toEqual({ changed: 0 })
    expect((await act(datasetId, 'task_actions/bulk_status/failed', { status: ['waiting', 'idle'] })).body).toEqual({ changed: 3 })
    await expectConsistent(datasetId, 3)
  })

  test('an empty status list selects nothing, alone or beside other filters, whatever the action', async () => {
    const { datasetId, jobs } = await pipeline(2)
    const statuses = async () => (t.ctx.sqlite.query('SELECT status FROM tasks WHERE dataset_id = ? ORDER BY rowid').all(datasetId) as { status: string }[]).map((row) => row.status)
    const before = await statuses()
    const ids = jobs.map((job) => job.generate)
    for (const action of ['bulk_suspend', 'bulk_reset', 'bulk_hard_reset', 'bulk_status/failed']) {
      for (const filters of [{}, { task_ids: ids }, { name: 'generate' }]) {
        const r = await act(datasetId, `task_actions/${action}`, { ...filters, status: [] })
        expect({ action, filters, status: r.status, body: r.body }).toEqual({ action, filters, status: 200, body: { changed: 0 } })
      }
    }
    expect(await statuses()).toEqual(before)
    // The ids are still checked.
    expect((await act(datasetId, 'task_actions/bulk_suspend', { task_ids: ['nosuchtask'], status: [] })).status).toBe(400)
  })

  test('status lists naming the same statuses, repeated or in another order, share one prepared statement', async () => {
    const { datasetId, jobs } = await pipeline(1)
    await setStatus(jobs[0]!.generate, 'failed')
    expect((await act(datasetId, 'task_actions/bulk_status/idle', { status: ['failed', 'complete'] })).body).toEqual({ changed: 1 })
    // Every statement of the action is prepared now: another list of the same statuses prepares none.
    const prepare = spyOn(t.ctx.sqlite, 'prepare')
    try {
      for (let i = 1; i <= 40; i++) {
        const status = i % 2 === 0 ? [...Array<string>(i).fill('complete'), 'failed'] : ['failed', ...Array<string>(i).fill('complete'), 'failed']
        expect((await act(datasetId, 'task_actions/bulk_status/idle', { status })).body).toEqual({ changed: 0 })
      }
      expect(prepare).not.toHaveBeenCalled()
    } finally {
      prepare.mockRestore()
    }
  })

  test('a dataset member who may write may act; one who may only read may not', async () => {
    const { datasetId } = await pipeline(1)
    const group = (JSON.parse((await t.call('GET', `/datasets/${datasetId}`)).text) as { group: string }).group
    writer = await t.token('user', { username: 'operator-with-a-long-name', groups: [group] })
    expect((await act(datasetId, 'task_actions/bulk_suspend', {}, writer)).body).toEqual({ changed: 2 })
    const { task_id: first } = t.ctx.sqlite.query('SELECT task_id FROM tasks WHERE dataset_id = ? LIMIT 1').get(datasetId) as { task_id: string }
    const entry = (await historyOf(t, datasetId, 'tasks', first)).at(-1)
    expect(entry?.by).toEqual({ username: 'operator-with-a-long-name', role: 'user' })
    await t.call('PUT', `/auths/${datasetId}`, { body: { read_groups: [group], write_groups: [] } })
    expect((await act(datasetId, 'task_actions/bulk_reset', {}, writer)).status).toBe(403)
  })
})

describe('requirements', () => {
  test('bulk_requirements merges into every task of the name not complete; queued tasks are handed out by the new requirements', async () => {
    const { datasetId, jobs } = await pipeline(3)
    await setStatus(jobs[0]!.generate, 'complete')
    const r = await t.call('PATCH', `/datasets/${datasetId}/task_actions/bulk_requirements/generate`, { body: { memory: 6, os: 'RHEL_8', cpu: 2 } })
    expect(r.body).toEqual({ changed: 2 })
    expect((await taskDoc(jobs[0]!.generate)).requirements).toEqual({ cpu: 1 })
    expect((await taskDoc(jobs[1]!.generate)).requirements).toEqual({ cpu: 2, memory: 6, os: 'RHEL_8' })
    // Counted even when the merge changes nothing.
    expect((await t.call('PATCH', `/datasets/${datasetId}/task_actions/bulk_requirements/generate`, { body: { cpu: 2 } })).body).toEqual({ changed: 2 })
    // Without the os, none of the dataset's generate tasks fits (other datasets' tasks may); with it, both do.
    expect((await claimAll({ cpu: 8, memory: 16 })).filter((id) => id.startsWith(datasetId))).toEqual([`${datasetId}/filter`])
    expect(await claimAll({ cpu: 8, memory: 16, os: 'RHEL_8' })).toEqual([`${datasetId}/generate`, `${datasetId}/generate`])
    expect((await t.call('PATCH', `/datasets/${datasetId}/task_actions/bulk_requirements/nosuchname`, { body: { cpu: 2 } })).status).toBe(404)
    await expectConsistent(datasetId, 3)
  })
})

describe('job actions', () => {
  test('the actions on the tasks of the jobs named, or of every job', async () => {
    const { datasetId, jobs } = await pipeline(3)
    expect((await act(datasetId, 'job_actions/bulk_suspend', { job_ids: [jobs[0]!.jobId, jobs[2]!.jobId] })).body).toEqual({ changed: 4 })
    expect([await status('jobs', jobs[0]!.jobId), await status('jobs', jobs[1]!.jobId), await status('jobs', jobs[2]!.jobId)]).toEqual(['suspended', 'processing', 'suspended'])
    expect((await act(datasetId, 'job_actions/bulk_reset', { job_ids: [jobs[0]!.jobId] })).body).toEqual({ changed: 2 })
    expect(await status('jobs', jobs[0]!.jobId)).toBe('processing')
    expect((await act(datasetId, 'job_actions/bulk_hard_reset', {})).body).toEqual({ changed: 2 })
    expect(await status('jobs', jobs[2]!.jobId)).toBe('processing')
    await expectConsistent(datasetId, 3)
  })
})

describe('dataset actions and priority', () => {
  test('suspend: nothing handed out or made; resume: processing again; truncate: no more jobs made, and the dataset follows its jobs', async () => {
    const datasetId = await f.dataset(undefined, { jobs_submitted: 4 })
    expect((await t.call('PUT', `/datasets/${datasetId}/config`, { body: { tasks: [{ name: 'only', requirements: { cpu: 1 } }] } })).status).toBe(200)
    await t.scheduler.materializer.idle()
    const offer = { cpu: 1, memory: 2, disk: 20, time: 2 }
    expect((await act(datasetId, 'dataset_actions/suspend')).body).toEqual({ changed: 1 })
    expect((await act(datasetId, 'dataset_actions/suspend')).body).toEqual({ changed: 0 })
    expect((await claimAll(offer)).filter((id) => id.startsWith(datasetId))).toEqual([])
    expect((await act(datasetId, 'dataset_actions/resume')).body).toEqual({ changed: 1 })
    expect(await claimAll(offer)).toEqual(Array(4).fill(`${datasetId}/only`))
    await act(datasetId, 'task_actions/bulk_reset')
    await act(datasetId, 'task_actions/bulk_status/queued', { status: ['processing'] })
    expect((await act(datasetId, 'dataset_actions/truncate')).body).toEqual({ changed: 1 })
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: 8 } })).status).toBe(200)
    await t.scheduler.materializer.idle()
    expect(t.ctx.sqlite.query('SELECT count(*) AS n FROM jobs WHERE dataset_id = ?').get(datasetId)).toEqual({ n: 4 })
    // Truncated: once its jobs are all complete, so is the dataset.
    expect((await act(datasetId, 'task_actions/bulk_status/complete')).body).toEqual({ changed: 4 })
    expect(await status('datasets', datasetId)).toBe('complete')
    expect(steps(await historyOf(t, datasetId))).toEqual(['processing>suspended', 'suspended>processing', 'processing>truncated', 'truncated>complete'])
    // Truncated, it follows the jobs it has.
    await expectConsistent(datasetId, 4)
  })

  test('hard_reset: processing again and every task hard-reset', async () => {
    const { datasetId, jobs } = await pipeline(2)
    await act(datasetId, 'task_actions/bulk_status/complete', { name: 'generate' })
    await act(datasetId, 'task_actions/bulk_status/complete')
    expect(await status('datasets', datasetId)).toBe('complete')
    expect((await act(datasetId, 'dataset_actions/hard_reset')).body).toEqual({ changed: 4 })
    expect(await status('datasets', datasetId)).toBe('processing')
    expect((await historyOf(t, datasetId)).at(-1)).toEqual({ time: expect.any(String), from: 'complete', to: 'processing', by: admin })
    for (const job of jobs) expect([await status('tasks', job.generate), await status('tasks', job.filter), await status('jobs', job.jobId)]).toEqual(['queued', 'waiting', 'processing'])
    await expectConsistent(datasetId, 2)
  })

  test("PUT priority: the dataset's queued tasks are handed out by it at once", async () => {
    const low = await f.dataset(1)
    const high = await f.dataset(2)
    await f.task(low, { requirements: { cpu: 1 } })
    await f.task(high, { requirements: { cpu: 1 } })
    expect((await t.call('PUT', `/datasets/${low}/priority`, { body: { priority: 3 } })).body).toEqual({})
    expect(JSON.parse((await t.call('GET', `/datasets/${low}`)).text).priority).toBe(3)
    const pilot = await t.token('pilot')
    const claimed = await t.call('POST', '/task_actions/process', { body: { requirements: { cpu: 1 } }, token: pilot })
    expect(claimed.body.dataset_id).toBe(low)
    expect((await t.call('PUT', `/datasets/${low}/priority`, { body: { priority: 'high' } })).status).toBe(400)
  })
})

describe('bad filters change nothing', () => {
  /** Every table's content, to compare before and after a refused action. */
  const contents = () => {
    const tables = t.ctx.sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]
    return Object.fromEntries(tables.map(({ name }) => [name, Bun.hash(JSON.stringify(t.ctx.sqlite.query(`SELECT * FROM "${name}"`).values())).toString(16)]))
  }

  test('an id of another dataset, an id of nothing, an unknown status, more than 100,000 ids, a filter of the wrong type: 400 and nothing changed', async () => {
    const { datasetId, jobs } = await pipeline(2)
    const other = await pipeline(1)
    const before = contents()
    const valid = jobs.flatMap((job) => [job.generate, job.filter])
    const cases: [string, unknown, string][] = [
      ['task_actions/bulk_suspend', { task_ids: [...valid, other.jobs[0]!.generate] }, `task ${other.jobs[0]!.generate} is not a task of dataset ${datasetId}`],
      ['task_actions/bulk_hard_reset', { task_ids: [valid[0], 'nosuchtask'] }, `task nosuchtask is not a task of dataset ${datasetId}`],
      ['job_actions/bulk_suspend', { job_ids: [jobs[0]!.jobId, other.jobs[0]!.jobId] }, `job ${other.jobs[0]!.jobId} is not a job of dataset ${datasetId}`],
      ['task_actions/bulk_suspend', { status: ['queued', 'bogus'] }, 'bad status: bogus'],
      ['task_actions/bulk_status/bogus', {}, 'bad status: bogus'],
      ['task_actions/bulk_reset', { task_ids: [...valid, ...Array.from({ length: 100_000 }, (_, i) => `t${i}`)] }, 'key task_ids holds more than 100000 items'],
      ['job_actions/bulk_reset', { job_ids: Array.from({ length: 100_001 }, () => jobs[0]!.jobId) }, 'key job_ids holds more than 100000 items'],
      ['task_actions/bulk_suspend', { status: 'queued' }, 'key status must be an array'],
      ['task_actions/bulk_suspend', { task_ids: valid[0] }, 'key task_ids must be an array'],
      ['task_actions/bulk_suspend', { name: ['generate'] }, 'key name must be a string'],
      ['task_actions/bulk_suspend', { task_ids: [1, 2] }, 'key task_ids.0 must be a string'],
      ['task_actions/bulk_suspend', { tasks: valid }, 'unknown key: tasks (the filters are task_ids, status, name)'],
    ]
    for (const [action, body, error] of cases) {
      const r = await act(datasetId, action, body)
      expect({ action, status: r.status, body: r.body }).toEqual({ action, status: 400, body: { code: 400, error } })
    }
    expect(contents()).toEqual(before)
  })

  test('exactly 100,000 ids are taken', async () => {
    const { datasetId, jobs } = await pipeline(1)
    const ids = Array.from({ length: 100_000 }, () => jobs[0]!.generate)
    expect((await act(datasetId, 'task_actions/bulk_suspend', { task_ids: ids })).body).toEqual({ changed: 1 })
  })
})
