/**
 * With ICEPROD_SCHEDULER=off the server only stores and answers (API.md §6),
 * as a site whose own IceProd scheduled tasks drive it expects. A dataset
 * is driven through the API the way those tasks' REST clients do it
 * (buffer_jobs_tasks, queue_tasks, reset_tasks, non_active_tasks,
 * job_completion, dataset_completion), and after every step nothing has
 * happened on its own: no job or task made, nothing queued, retried, taken
 * back or rolled up, no history entry by the server, however much time passes
 * and however often the sweep runs.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { historyOf } from './history-support'
import { QueueFixture } from './queue-support'
import { FakeClock, startTestApp, type TestApp } from './support'

const clock = new FakeClock()
let t: TestApp
let f: QueueFixture
beforeAll(async () => {
  t = await startTestApp({ scheduler: false, taskGrace: 1, pilotTimeout: 1, sweepInterval: 1 }, {}, { clock: clock.now })
  f = new QueueFixture(t)
})
afterAll(() => t.close())

const CONFIG = { tasks: [{ name: 'generate' }, { name: 'filter', depends: ['generate'] }, { name: 'hist', depends: ['filter'] }] }

async function ok(method: string, path: string, body?: unknown, expected = 200) {
  const r = await t.call(method, path, { body })
  expect({ method, path, status: r.status, body: r.body }).toEqual({ method, path, status: expected, body: r.body })
  return r.body
}
const statusOf = async (path: string) => (await ok('GET', path)).status as string
const taskCounts = (d: string) => ok('GET', `/datasets/${d}/task_counts/status`)

/** Time passes, the background work (materialization, sweeps) gets its chances: nothing may come of it. */
async function timePasses(): Promise<void> {
  clock.advance(3_600_000)
  await t.scheduler.materializer.idle()
  expect(await t.scheduler.sweep.run()).toMatchObject({ pilotsDeleted: 0, tasksReset: 0 })
}

/** No change by the server in any history of the dataset. */
async function noServerEntries(d: string, jobs: string[], tasks: string[]): Promise<void> {
  const histories = [await historyOf(t, d), ...(await Promise.all(jobs.map((j) => historyOf(t, d, 'jobs', j)))), ...(await Promise.all(tasks.map((id) => historyOf(t, d, 'tasks', id))))]
  expect(histories.flat().filter((entry) => entry.by === 'server')).toEqual([])
}

test("IceProd's periodic clients drive a dataset to completion; nothing happens on its own", async () => {
  // The dataset and its config: nothing is checked or made from it.
  const d = await f.dataset(undefined, { jobs_submitted: 2, tasks_submitted: 6 })
  await ok('PUT', `/datasets/${d}/config`, CONFIG)
  await timePasses()
  expect((await ok('GET', `/datasets/${d}/jobs`))).toEqual({})

  // buffer_jobs_tasks: POST /jobs, then POST /tasks with depends by id. Every task starts waiting.
  const jobs: string[] = []
  const tasks: { generate: string; filter: string; hist: string }[] = []
  for (let index = 0; index < 2; index++) {
    const jobId = (await ok('POST', '/jobs', { dataset_id: d, job_index: index }, 201)).result as string
    const made: string[] = []
    for (const [taskIndex, entry] of CONFIG.tasks.entries()) {
      const depends = taskIndex === 0 ? [] : [made[taskIndex - 1]!]
      made.push((await ok('POST', '/tasks', { dataset_id: d, job_id: jobId, task_index: taskIndex, name: entry.name, depends, requirements: { cpu: 1 } }, 201)).result)
    }
    jobs.push(jobId)
    tasks.push({ generate: made[0]!, filter: made[1]!, hist: made[2]! })
  }
  await timePasses()
  expect(await taskCounts(d)).toEqual({ waiting: 6 })
  expect(await f.process({ cpu: 1 })).toBeUndefined()

  // queue_tasks: only the tasks whose depends are complete, and only when asked.
  expect(await f.queue({ num_tasks: 100 })).toBe(2)
  expect(await taskCounts(d)).toEqual({ waiting: 4, queued: 2 })

  // A pilot claims both generates; its record lists them.
  const claimed = [await f.process({ cpu: 1 }), await f.process({ cpu: 1 })]
  expect(claimed.sort()).toEqual([tasks[0]!.generate, tasks[1]!.generate].sort())
  const pilot = (await ok('POST', '/pilots', { queue_host: 'ce', queue_version: '1', resources: {}, tasks: claimed }, 201)).result as string
  // non_active_tasks' part: the pilot goes silent for an hour, and is deleted by its grid; its tasks stay processing.
  await timePasses()
  await ok('DELETE', `/pilots/${pilot}`)
  expect(await statusOf(`/tasks/${tasks[0]!.generate}`)).toBe('processing')
  expect(await statusOf(`/tasks/${tasks[1]!.generate}`)).toBe('processing')

  // The pilot completes job 0's generate: its filter stays waiting until queue_tasks runs.
  await ok('POST', `/tasks/${tasks[0]!.generate}/task_actions/complete`, { time_used: 60 })
  await timePasses()
  expect(await statusOf(`/tasks/${tasks[0]!.filter}`)).toBe('waiting')

  // Job 1's generate is reset with a reason: it stays reset (no retry, no limit), however often.
  for (let i = 0; i < 3; i++) {
    if (i > 0) {
      await ok('PUT', `/tasks/${tasks[1]!.generate}/status`, { status: 'processing' })
    }
    await ok('POST', `/tasks/${tasks[1]!.generate}/task_actions/reset`, { reason: 'segfault', time_used: 10, resources: { memory: 30 } })
  }
  await timePasses()
  const reset = await ok('GET', `/tasks/${tasks[1]!.generate}`)
  expect(reset).toMatchObject({ status: 'reset', failures: 3, requirements: { cpu: 1 } })
  expect(reset.requirements.memory).toBeUndefined()
  // reset_tasks: the reset task back to waiting; queue_tasks queues it.
  await ok('PUT', `/datasets/${d}/tasks/${tasks[1]!.generate}/status`, { status: 'waiting' })
  expect(await statusOf(`/tasks/${tasks[1]!.generate}`)).toBe('waiting')
  expect(await f.queue()).toBe(2)

  // A task that fails does not stop its job; a suspended job does not stop the dataset.
  await ok('PUT', `/tasks/${tasks[1]!.generate}/status`, { status: 'failed' })
  await ok('PUT', `/datasets/${d}/jobs/${jobs[1]}/status`, { status: 'suspended' })
  await timePasses()
  expect(await statusOf(`/jobs/${jobs[1]}`)).toBe('suspended')
  expect(await statusOf(`/datasets/${d}`)).toBe('processing')
  await ok('PUT', `/datasets/${d}/tasks/${tasks[1]!.generate}/status`, { status: 'waiting' })
  expect(await statusOf(`/jobs/${jobs[1]}`)).toBe('suspended')
  await ok('PUT', `/datasets/${d}/jobs/${jobs[1]}/status`, { status: 'processing' })

  // The pilots run everything else, queue_tasks queueing each step when its depends are complete.
  for (let round = 0; round < 4; round++) {
    await f.queue()
    for (const id of await f.processAll({ cpu: 1 })) await ok('POST', `/tasks/${id}/task_actions/complete`, {})
  }
  expect(await taskCounts(d)).toEqual({ complete: 6 })

  // job_completion and dataset_completion: the jobs and the dataset stay processing until their clients set them.
  await timePasses()
  for (const jobId of jobs) expect(await statusOf(`/jobs/${jobId}`)).toBe('processing')
  expect(await statusOf(`/datasets/${d}`)).toBe('processing')
  for (const jobId of jobs) await ok('PUT', `/datasets/${d}/jobs/${jobId}/status`, { status: 'complete' })
  expect(await statusOf(`/datasets/${d}`)).toBe('processing')
  await ok('PUT', `/datasets/${d}/status`, { status: 'complete' })
  await timePasses()
  expect(await statusOf(`/datasets/${d}`)).toBe('complete')
  expect(await ok('GET', `/datasets/${d}/job_counts/status`)).toEqual({ complete: 2 })

  await noServerEntries(d, jobs, tasks.flatMap((x) => [x.generate, x.filter, x.hist]))
  const changes = t.ctx.sqlite.query('SELECT count(*) AS n FROM scheduler_changes').get() as { n: number }
  expect(changes.n).toBe(0)
})

test('nothing rolls up when the statuses a scheduler would follow are reached', async () => {
  const d = await f.dataset(undefined, { jobs_submitted: 2 })
  const jobs = [await f.job(d), await f.job(d)]
  const tasks = [await f.task(d, {}, jobs[0]), await f.task(d, {}, jobs[1])]
  // Job 0 all failed, job 1 all suspended: a scheduler would make them errors and suspended, the dataset errors.
  await ok('PUT', `/tasks/${tasks[0]}/status`, { status: 'failed' })
  await ok('PUT', `/tasks/${tasks[1]}/status`, { status: 'suspended' })
  await timePasses()
  expect([await statusOf(`/jobs/${jobs[0]}`), await statusOf(`/jobs/${jobs[1]}`), await statusOf(`/datasets/${d}`)]).toEqual(['processing', 'processing', 'processing'])
  // A client sets the jobs' statuses: the dataset still does not follow; all complete does not complete it.
  await ok('PUT', `/datasets/${d}/jobs/${jobs[0]}/status`, { status: 'errors' })
  await ok('PUT', `/datasets/${d}/jobs/${jobs[1]}/status`, { status: 'suspended' })
  expect(await statusOf(`/datasets/${d}`)).toBe('processing')
  await ok('PUT', `/datasets/${d}/status`, { status: 'errors' })
  for (const id of tasks) await ok('PUT', `/tasks/${id}/status`, { status: 'complete' })
  await timePasses()
  expect([await statusOf(`/jobs/${jobs[0]}`), await statusOf(`/jobs/${jobs[1]}`), await statusOf(`/datasets/${d}`)]).toEqual(['errors', 'suspended', 'errors'])
  await noServerEntries(d, jobs, tasks)
})

test('a dataset set truncated or processing, or given as many jobs_submitted as it has jobs, stays as the client set it', async () => {
  const d = await f.dataset(undefined, { jobs_submitted: 3 })
  const jobs = [await f.job(d), await f.job(d)]
  for (const jobId of jobs) {
    await ok('PUT', `/tasks/${await f.task(d, {}, jobId)}/status`, { status: 'complete' })
    await ok('PUT', `/datasets/${d}/jobs/${jobId}/status`, { status: 'complete' })
  }
  await ok('PUT', `/datasets/${d}/jobs_submitted`, { jobs_submitted: 2 })
  expect(await statusOf(`/datasets/${d}`)).toBe('processing')
  await ok('PUT', `/datasets/${d}/status`, { status: 'truncated' })
  await ok('POST', `/datasets/${d}/dataset_actions/resume`)
  await ok('PUT', `/datasets/${d}/status`, { status: 'suspended' })
  await ok('PUT', `/datasets/${d}/status`, { status: 'processing' })
  await timePasses()
  expect(await statusOf(`/datasets/${d}`)).toBe('processing')
  expect((await historyOf(t, d)).map((e) => `${e.from}>${e.to}`)).toEqual(['processing>truncated', 'truncated>processing', 'processing>suspended', 'suspended>processing'])
  await noServerEntries(d, jobs, [])
})

test('a task made waiting for a failed task, or whose depends a PATCH changes, moves nothing', async () => {
  const d = await f.dataset(undefined, { jobs_submitted: 2 })
  const jobs = [await f.job(d), await f.job(d)]
  const failed = await f.task(d, {}, jobs[0])
  await ok('PUT', `/tasks/${failed}/status`, { status: 'failed' })
  const waiting = await f.task(d, { depends: [failed] }, jobs[1])
  const patched = await ok('PATCH', `/tasks/${waiting}`, { depends: [] })
  expect(patched).toMatchObject({ status: 'waiting', depends: [] })
  expect(patched).toEqual(await ok('GET', `/tasks/${waiting}`))
  await timePasses()
  expect([await statusOf(`/jobs/${jobs[0]}`), await statusOf(`/jobs/${jobs[1]}`), await statusOf(`/datasets/${d}`)]).toEqual(['processing', 'processing', 'processing'])
  await noServerEntries(d, jobs, [failed, waiting])
})

test('a queued task whose depends a PATCH makes wait for a task not complete stays queued, and is handed out', async () => {
  // The highest priority of the file's datasets: the claim takes this dataset's task before any other that fits.
  const d = await f.dataset(1000)
  const job = await f.job(d)
  const open = await f.task(d, {}, job)
  const task = await f.task(d, { requirements: { site: 'patched-queued' } }, job)
  await ok('PUT', `/tasks/${task}/status`, { status: 'queued' })
  expect(await ok('PATCH', `/tasks/${task}`, { depends: [open] })).toMatchObject({ status: 'queued', depends: [open] })
  await timePasses()
  expect(await f.process({ site: 'patched-queued' })).toBe(task)
  await noServerEntries(d, [job], [open, task])
})

test('no instance_id, ever: a task is made without one, a claim writes none, a client\'s own stays as it gave it', async () => {
  const d = await f.dataset(2000)
  const job = await f.job(d)
  const task = await f.task(d, { requirements: { site: 'no-instance' } }, job)
  const own = await f.task(d, { requirements: { site: 'own-instance' }, instance_id: 'mine' }, job)
  expect('instance_id' in (await ok('GET', `/tasks/${task}`))).toBe(false)
  expect((await ok('GET', `/tasks/${own}`)).instance_id).toBe('mine')
  await ok('PUT', `/tasks/${task}/status`, { status: 'queued' })
  await ok('PUT', `/tasks/${own}/status`, { status: 'queued' })
  const claimed = await ok('POST', '/task_actions/process', { requirements: { site: 'no-instance' } })
  expect(claimed.task_id).toBe(task)
  expect('instance_id' in claimed).toBe(false)
  expect((await ok('POST', '/task_actions/process', { requirements: { site: 'own-instance' } })).instance_id).toBe('mine')
  await ok('POST', `/tasks/${task}/task_actions/complete`, { time_used: 1 })
  expect('instance_id' in (await ok('GET', `/tasks/${task}`))).toBe(false)
  const stored = t.ctx.sqlite.query("SELECT count(*) AS n FROM tasks WHERE json_extract(doc, '$.instance_id') IS NOT NULL AND json_extract(doc, '$.instance_id') <> 'mine'").get() as { n: number }
  expect(stored.n).toBe(0)
})
