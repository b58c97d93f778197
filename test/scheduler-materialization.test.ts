/**
 * Materialization (API.md §6.1) with the scheduler on: a processing dataset
 * whose config has tasks gets its jobs and tasks from the server, in the
 * background, at most ICEPROD_BUFFER_JOBS processing at once, resuming after
 * a restart, skipping job indexes clients made; PUT config checks `tasks`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KEPT_PLANS } from '../src/modules/scheduler/materializer'
import { MAX_CONFIG_TASKS, MAX_DEPENDS } from '../src/modules/scheduler/task-plan'
import { QueueFixture } from './queue-support'
import { ID, startTestApp, TIMESTAMP, type TestApp } from './support'

let t: TestApp
let f: QueueFixture
beforeAll(async () => {
  t = await startTestApp({ bufferJobs: 4 })
  f = new QueueFixture(t)
})
afterAll(() => t.close())

const PIPELINE = {
  tasks: [
    { name: 'generate', requirements: { memory: 2, gpu: ['gpu0', 'gpu1'] }, trays: [{ modules: [] }] },
    { name: 'filter', depends: ['generate'] },
    { name: 'hist', depends: ['filter', 0], requirements: { os: 'RHEL_8' } },
  ],
}

/** `count` tasks, each depending on the one before it by name. */
const chain = (count: number) => Array.from({ length: count }, (_, i) => ({ name: `t${i}`, depends: i > 0 ? [`t${i - 1}`] : [] }))
const putConfig = (d: string, config: unknown) => t.call('PUT', `/datasets/${d}/config`, { body: config })
const jobsOf = async (d: string) => Object.values((await t.call('GET', `/datasets/${d}/jobs`)).body) as Record<string, any>[]
const tasksOf = async (d: string) => Object.values((await t.call('GET', `/datasets/${d}/tasks`)).body) as Record<string, any>[]
const idle = () => t.scheduler.materializer.idle()
async function completeJob(d: string, jobId: string) {
  for (const task of (await tasksOf(d)).filter((task) => task.job_id === jobId)) await t.call('PUT', `/tasks/${task.task_id}/status`, { body: { status: 'complete' } })
}

describe('jobs and tasks made from the config', () => {
  test('job_index 0, 1, 2…; one task per entry, in order, named, depending by name or index, with requirements over the defaults', async () => {
    const d = await f.dataset(undefined, { jobs_submitted: 3 })
    expect((await putConfig(d, PIPELINE)).status).toBe(200)
    await idle()
    const jobs = await jobsOf(d)
    expect(jobs.map((job) => job.job_index)).toEqual([0, 1, 2])
    for (const job of jobs) {
      expect(Object.keys(job).sort()).toEqual(['dataset_id', 'job_id', 'job_index', 'status', 'status_changed'])
      expect([job.dataset_id, job.status]).toEqual([d, 'processing'])
      expect(job.job_id).toMatch(ID)
      expect(job.status_changed).toMatch(TIMESTAMP)
    }
    const tasks = await tasksOf(d)
    expect(tasks.length).toBe(9)
    const first = tasks.filter((task) => task.job_id === jobs[0]!.job_id)
    expect(first.map((task) => [task.task_index, task.name, task.status])).toEqual([
      [0, 'generate', 'queued'],
      [1, 'filter', 'waiting'],
      [2, 'hist', 'waiting'],
    ])
    const [generate, filter, hist] = first
    expect(filter.depends).toEqual([generate.task_id])
    expect(hist.depends).toEqual([filter.task_id, generate.task_id])
    expect(generate.requirements).toEqual({ cpu: 1, gpu: 2, memory: 2, disk: 10, time: 1 })
    expect(hist.requirements).toEqual({ cpu: 1, gpu: 0, memory: 1, disk: 10, time: 1, os: 'RHEL_8' })
    // Exactly the fields POST /tasks sets, nothing from the config entry beyond them.
    expect(Object.keys(generate).sort()).toEqual(
      ['dataset_id', 'depends', 'evictions', 'failures', 'instance_id', 'job_id', 'job_index', 'name', 'requirements', 'status', 'status_changed', 'task_id', 'task_index', 'walltime', 'walltime_err', 'walltime_err_n'],
    )
    expect(generate).toMatchObject({ job_index: 0, failures: 0, evictions: 0, walltime: 0, walltime_err: 0, walltime_err_n: 0 })
    expect((await t.call('GET', `/datasets/${d}/job_counts/status`)).body).toEqual({ processing: 3 })
    expect((await t.call('GET', `/datasets/${d}/task_counts/status`)).body).toEqual({ waiting: 6, queued: 3 })
  })

  test('an empty name is the index as a string; a task id in depends is kept; no tasks, nothing made', async () => {
    const other = await f.dataset()
    const external = await f.task(other)
    const d = await f.dataset(undefined, { jobs_submitted: 1 })
    await putConfig(d, { tasks: [{ name: '' }, { depends: ['0', external] }] })
    await idle()
    const tasks = await tasksOf(d)
    expect(tasks.map((task) => task.name)).toEqual(['0', '1'])
    expect(tasks[1]!.depends).toEqual([tasks[0]!.task_id, external])

    const empty = await f.dataset(undefined, { jobs_submitted: 2 })
    await putConfig(empty, { tasks: [], version: 3 })
    await idle()
    expect(await jobsOf(empty)).toEqual([])
  })

  test('job indexes a client made are skipped; jobs_submitted counts them', async () => {
    const d = await f.dataset(undefined, { jobs_submitted: 4 })
    expect((await t.call('POST', '/jobs', { body: { dataset_id: d, job_index: 1 } })).status).toBe(201)
    await putConfig(d, { tasks: [{ name: 'only' }] })
    await idle()
    const jobs = await jobsOf(d)
    expect(jobs.map((job) => job.job_index).sort()).toEqual([0, 1, 2, 3])
    const tasks = await tasksOf(d)
    expect(tasks.map((task) => task.job_index).sort()).toEqual([0, 2, 3])
  })
})

describe('how many, and when', () => {
  test('at most ICEPROD_BUFFER_JOBS processing at once; more as jobs finish, until jobs_submitted', async () => {
    const d = await f.dataset(undefined, { jobs_submitted: 6 })
    await putConfig(d, { tasks: [{ name: 'a' }] })
    await idle()
    expect((await jobsOf(d)).length).toBe(4)
    const [first, second] = await jobsOf(d)
    await completeJob(d, first!.job_id)
    await idle()
    expect((await jobsOf(d)).length).toBe(5)
    await completeJob(d, second!.job_id)
    await idle()
    const jobs = await jobsOf(d)
    expect(jobs.map((job) => job.job_index)).toEqual([0, 1, 2, 3, 4, 5])
    for (const job of jobs.slice(2)) await completeJob(d, job.job_id)
    await idle()
    expect((await jobsOf(d)).length).toBe(6)
    expect((await t.call('GET', `/datasets/${d}`)).body.status).toBe('complete')
  })

  test("a config is read into its plan once for all of the dataset's steps, again when it changes, and kept only while jobs are left to make", async () => {
    const own = await startTestApp({ bufferJobs: 4 })
    try {
      const fixture = new QueueFixture(own)
      const materializer = own.scheduler.materializer
      const jobs = async (d: string) => Object.values((await own.call('GET', `/datasets/${d}/jobs`)).body) as Record<string, any>[]
      const finish = async (d: string, jobId: string) => {
        const tasks = Object.values((await own.call('GET', `/datasets/${d}/tasks`)).body) as Record<string, any>[]
        for (const task of tasks.filter((task) => task.job_id === jobId)) await own.call('PUT', `/tasks/${task.task_id}/status`, { body: { status: 'complete' } })
      }
      const d = await fixture.dataset(undefined, { jobs_submitted: 7 })
      expect((await own.call('PUT', `/datasets/${d}/config`, { body: { tasks: [{ name: 'a' }] } })).status).toBe(200)
      await materializer.idle()
      const planned = materializer.configsPlanned
      expect(planned).toBe(1)
      // More steps as jobs finish: the plan is not read again.
      await finish(d, (await jobs(d))[0]!.job_id)
      await materializer.idle()
      expect((await jobs(d)).length).toBe(5)
      expect(materializer.configsPlanned).toBe(planned)
      // A new config is read at the next step.
      expect((await own.call('PUT', `/datasets/${d}/config`, { body: { tasks: [{ name: 'a' }, { name: 'b', depends: ['a'] }] } })).status).toBe(200)
      await finish(d, (await jobs(d))[1]!.job_id)
      await materializer.idle()
      expect(materializer.configsPlanned).toBe(planned + 1)
      const newest = (await jobs(d)).at(-1)!
      const tasks = Object.values((await own.call('GET', `/datasets/${d}/tasks`)).body) as Record<string, any>[]
      expect(tasks.filter((task) => task.job_id === newest.job_id).map((task) => task.name)).toEqual(['a', 'b'])
      expect(materializer.keptPlans()).toBe(1)
      // Every job made: the plan is dropped.
      for (const job of (await jobs(d)).slice(2)) await finish(d, job.job_id)
      await materializer.idle()
      expect((await jobs(d)).length).toBe(7)
      expect(materializer.keptPlans()).toBe(0)
      // Plans are kept for at most KEPT_PLANS datasets at once.
      for (let i = 0; i <= KEPT_PLANS; i++) {
        const waiting = await fixture.dataset(undefined, { jobs_submitted: 5 })
        expect((await own.call('PUT', `/datasets/${waiting}/config`, { body: { tasks: [{ name: 'a' }] } })).status).toBe(200)
      }
      await materializer.idle()
      expect(materializer.keptPlans()).toBe(KEPT_PLANS)
    } finally {
      own.close()
    }
  })

  test('raising jobs_submitted makes more, and reopens a dataset the roll-up completed', async () => {
    const d = await f.dataset(undefined, { jobs_submitted: 1 })
    await putConfig(d, { tasks: [{ name: 'a' }] })
    await idle()
    await completeJob(d, (await jobsOf(d))[0]!.job_id)
    expect((await t.call('GET', `/datasets/${d}`)).body.status).toBe('complete')
    await t.call('PUT', `/datasets/${d}/jobs_submitted`, { body: { jobs_submitted: 3 } })
    expect((await t.call('GET', `/datasets/${d}`)).body.status).toBe('processing')
    await idle()
    expect((await jobsOf(d)).length).toBe(3)
    const history = (await t.call('GET', `/datasets/${d}/history`)).body.history
    expect(history.at(-1)).toMatchObject({ from: 'complete', to: 'processing', by: 'server', reason: 'more jobs to make' })
  })

  test('a suspended dataset gets none; resuming it makes them', async () => {
    const d = await f.dataset(undefined, { jobs_submitted: 2 })
    await t.call('PUT', `/datasets/${d}/status`, { body: { status: 'suspended' } })
    await putConfig(d, { tasks: [{ name: 'a' }] })
    await idle()
    expect(await jobsOf(d)).toEqual([])
    await t.call('PUT', `/datasets/${d}/status`, { body: { status: 'processing' } })
    await idle()
    expect((await jobsOf(d)).length).toBe(2)
  })

  test('after a restart, it goes on where it stopped, never making a job_index twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iceprod-materialize-'))
    try {
      const db = join(dir, 'iceprod.sqlite')
      const first = await startTestApp({ db, bufferJobs: 5000 })
      const group = (await first.call('POST', '/groups', { body: { name: '/m' } })).status
      expect(group).toBe(201)
      const d = (await first.call('POST', '/datasets', { body: { description: 'm', jobs_submitted: 3000, tasks_submitted: 3000, group: '/m' } })).body.result.split('/')[2]
      await first.call('PUT', `/datasets/${d}/config`, { body: { tasks: [{ name: 'a' }, { name: 'b', depends: ['a'] }] } })
      // Stop after the first transactions, as a kill would.
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
      first.scheduler.stop()
      const before = first.count('jobs')
      expect(before).toBeGreaterThan(0)
      expect(before).toBeLessThan(3000)
      first.close()

      const again = await startTestApp({ db, bufferJobs: 5000 })
      await again.scheduler.materializer.idle()
      const sqlite = again.ctx.sqlite
      expect(sqlite.query('SELECT count(*) AS n, count(DISTINCT job_index) AS distinct_indexes, min(job_index) AS low, max(job_index) AS high FROM jobs WHERE dataset_id = ?').get(d)).toEqual({
        n: 3000,
        distinct_indexes: 3000,
        low: 0,
        high: 2999,
      })
      expect(sqlite.query('SELECT count(*) AS n FROM tasks WHERE dataset_id = ?').get(d)).toEqual({ n: 6000 })
      expect(sqlite.query('SELECT count(*) AS n FROM (SELECT job_id FROM tasks WHERE dataset_id = ? GROUP BY job_id HAVING count(*) <> 2)').get(d)).toEqual({ n: 0 })
      again.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a step refused for a full disk wrote no partial job, and is tried again until there is room', async () => {
    const lines: string[] = []
    // The materializer's pause before it tries again lasts a turn of the event loop, not a real second.
    const lockTimer = { now: () => performance.now(), sleep: () => new Promise<void>((resolve) => setImmediate(resolve)) }
    const full = await startTestApp({ logLevel: 'warn' }, {}, { lockTimer, logOutput: { destination: { write: (line: string) => void lines.push(line) }, flush: async () => {} } })
    try {
      const sqlite = await materializeOnFullDisk(full)
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
      // A step cut short by its time budget on a busy machine may have fitted
      // a few jobs into the room left: each whole, none past the room.
      const made = full.count('jobs')
      expect(made).toBeLessThan(200)
      expect(full.count('tasks')).toBe(2 * made)
      sqlite.exec('PRAGMA max_page_count = 4294967294')
      await full.scheduler.materializer.idle()
      expect([full.count('jobs'), full.count('tasks')]).toEqual([200, 400])
      await full.flushLogs()
      expect(lines.join('')).not.toContain('materialization stopped')
    } finally {
      full.close()
    }
  })
})

/**
 * Gives `app` a dataset of 200 jobs to make on a database that may hardly
 * grow: the config fits, the jobs do not. Returns the app's connection.
 */
async function materializeOnFullDisk(app: TestApp) {
  const d = await new QueueFixture(app).dataset(undefined, { jobs_submitted: 200 })
  const sqlite = app.ctx.sqlite
  const { page_count } = sqlite.query('PRAGMA page_count').get() as { page_count: number }
  sqlite.exec(`PRAGMA max_page_count = ${page_count + 4}`)
  expect((await app.call('PUT', `/datasets/${d}/config`, { body: { tasks: [{ name: 'a' }, { name: 'b', depends: ['a'] }] } })).status).toBe(200)
  return sqlite
}

describe('stopping during the pause before a retry', () => {
  test('close cancels the pause, so that a stopped app keeps no timer running', async () => {
    // The pause ends only when cancelled: the test sees whether close cancels it.
    const pauses: AbortSignal[] = []
    const lockTimer = {
      now: () => performance.now(),
      sleep: (_ms: number, signal?: AbortSignal) => {
        if (!signal) throw new Error('the pause before a retry must be cancellable')
        pauses.push(signal)
        return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()))
      },
    }
    const full = await startTestApp({ logLevel: 'silent' }, {}, { lockTimer })
    try {
      await materializeOnFullDisk(full)
      for (const deadline = Date.now() + 10_000; pauses.length === 0 && Date.now() < deadline; ) await new Promise((resolve) => setImmediate(resolve))
      expect(pauses).toHaveLength(1)
      expect(pauses[0]!.aborted).toBe(false)
    } finally {
      full.close()
    }
    expect(pauses[0]!.aborted).toBe(true)
    await full.scheduler.materializer.idle()
  })
})

describe('PUT config checks tasks', () => {
  test.each([
    ['a depends entry naming the task itself', { tasks: [{ name: 'a' }, { name: 'b', depends: ['b'] }] }, 'task "b" (1): depends entry "b" is the task itself'],
    ['its own index', { tasks: [{ name: 'a', depends: [0] }] }, 'task "a" (0): depends entry 0 is the task itself'],
    ['a later task by name', { tasks: [{ name: 'a', depends: ['b'] }, { name: 'b' }] }, 'task "a" (0): depends entry "b" is a later task'],
    ['a later task by index', { tasks: [{ name: 'a', depends: [1] }, { name: 'b' }] }, 'task "a" (0): depends entry 1 is a later task'],
    ['an unknown name', { tasks: [{ name: 'a' }, { name: 'b', depends: ['nope'] }] }, 'task "b" (1): depends entry "nope" names no earlier task and no existing task'],
    ['an index past the list', { tasks: [{ name: 'a' }, { name: 'b', depends: [7] }] }, 'task "b" (1): depends entry 7 is no task of the list'],
    ['a number that is not an index', { tasks: [{ name: 'a' }, { name: 'b', depends: [0.5] }] }, 'task "b" (1): depends entry 0.5 must be a task name, a task index or a task id'],
    ['an object', { tasks: [{ name: 'a' }, { name: 'b', depends: [{ name: 'a' }] }] }, 'task "b" (1): depends entry {"name":"a"} must be a task name, a task index or a task id'],
    ['depends not a list', { tasks: [{ name: 'a', depends: 'b' }] }, 'task "a" (0): key depends must be a list'],
    ['tasks not a list', { tasks: { name: 'a' } }, 'key tasks must be a list of task objects'],
    ['an entry not an object', { tasks: [{ name: 'a' }, 'b'] }, 'task 1 must be an object'],
    ['a name not a string', { tasks: [{ name: 5 }] }, 'task "0" (0): key name must be a string'],
    ['a name used twice', { tasks: [{ name: 'a' }, { name: 'a' }] }, 'task "a" (1): name "a" is also task 0\'s'],
    ['requirements not an object', { tasks: [{ name: 'a', requirements: [1] }] }, 'task "a" (0): key requirements must be an object'],
    ['more tasks than a config may list', { tasks: chain(MAX_CONFIG_TASKS + 1) }, `key tasks lists ${MAX_CONFIG_TASKS + 1} tasks; a config lists at most ${MAX_CONFIG_TASKS}`],
    [
      'more depends entries than a task may have',
      { tasks: [{ name: 'a' }, { name: 'b', depends: Array.from({ length: MAX_DEPENDS + 1 }, (_, i) => `no-such-task-${i}`) }] },
      `task "b" (1): key depends lists ${MAX_DEPENDS + 1} entries; a task depends on at most ${MAX_DEPENDS}`,
    ],
  ])('%s is 400 naming the task and the entry, and changes nothing', async (_what, config, message) => {
    const d = await f.dataset(undefined, { jobs_submitted: 2 })
    await putConfig(d, { tasks: [], before: true })
    const r = await putConfig(d, config)
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ code: 400, error: message })
    expect((await t.call('GET', `/datasets/${d}/config`)).body).toEqual({ tasks: [], before: true, dataset_id: d })
    await idle()
    expect(await jobsOf(d)).toEqual([])
  })

  test('a config of as many tasks as it may list, each depending on the one before by name, is taken', async () => {
    const d = await f.dataset(undefined, { jobs_submitted: 1 })
    expect((await putConfig(d, { tasks: chain(MAX_CONFIG_TASKS) })).status).toBe(200)
    await idle()
    expect((await tasksOf(d)).length).toBe(MAX_CONFIG_TASKS)
  })

  test('a task with as many depends entries as it may have is taken', async () => {
    const d = await f.dataset(undefined, { jobs_submitted: 1 })
    expect((await putConfig(d, { tasks: [{ name: 'a' }, { name: 'b', depends: Array.from({ length: MAX_DEPENDS }, () => 'a') }] })).status).toBe(200)
    await idle()
    expect((await tasksOf(d)).map((task) => task.depends.length).sort()).toEqual([0, MAX_DEPENDS])
  })

  test('the /config/<id> alias checks the same', async () => {
    const d = await f.dataset()
    expect((await t.call('PUT', `/config/${d}`, { body: { tasks: [{ name: 'a', depends: ['a'] }] } })).status).toBe(400)
  })

  test('with the scheduler off, any config is stored as it is and nothing is made', async () => {
    const off = await startTestApp({ scheduler: false })
    try {
      const fixture = new QueueFixture(off)
      const d = await fixture.dataset(undefined, { jobs_submitted: 2 })
      expect((await off.call('PUT', `/datasets/${d}/config`, { body: { tasks: [{ name: 'a', depends: ['a'] }] } })).status).toBe(200)
      await off.call('PUT', `/datasets/${d}/config`, { body: PIPELINE })
      await off.scheduler.materializer.idle()
      expect(off.count('jobs')).toBe(0)
    } finally {
      off.close()
    }
  })
})
