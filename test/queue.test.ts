/**
 * The task lifecycle actions (API.md 4.5.1) through the API: queue, process,
 * reset and complete; shapes, defaults, roles, errors and ordering.
 * With the scheduler off (ICEPROD_SCHEDULER=off), as a site whose IceProd
 * scheduled tasks drive the server has it; the scheduler's own behaviour is
 * tested in test/scheduler-*.test.ts.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { MAX_QUEUE_TASKS } from '../src/modules/queue/model'
import { databaseRestorer, QueueFixture, startSeededApp } from './queue-support'
import { timestamp } from '../src/db/documents'
import { FakeClock, startTestApp, TIMESTAMP, type TestApp } from './support'

// One app for all the tests, each starting from the empty database the app started on.
const clock = new FakeClock()
let t: TestApp
let f: QueueFixture
let restore: () => void
beforeAll(async () => {
  t = await startTestApp({ scheduler: false }, {}, { clock: clock.now })
  restore = databaseRestorer(t)
})
afterAll(() => t.close())
beforeEach(() => {
  f = new QueueFixture(t)
})
afterEach(() => restore())

/** POST `path` with `{}`: 403 for each role of `refused`, 401 without a token, and `allowed.status` for `allowed.role`. */
async function expectOnly(path: string, refused: string[], allowed: { role: string; status: number }): Promise<void> {
  for (const role of refused) expect((await t.call('POST', path, { token: await t.token(role), body: {} })).status).toBe(403)
  expect((await t.call('POST', path, { token: null, body: {} })).status).toBe(401)
  expect((await t.call('POST', path, { token: await t.token(allowed.role), body: {} })).status).toBe(allowed.status)
}

describe('POST /task_actions/queue', () => {
  test('queues waiting tasks, returns {"queued": n} and sets status_changed', async () => {
    const d = await f.dataset()
    const [a, b] = await f.tasks(d, 2)
    const before = await f.get(a!)
    clock.advance(1500)
    const r = await t.call('POST', '/task_actions/queue', { token: await t.token('client'), body: {} })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ queued: 2 })
    const after = await f.get(a!)
    expect(after).toEqual({ ...before, status: 'queued', status_changed: timestamp(clock.now()) })
    expect(after.status_changed > before.status_changed).toBe(true)
    expect(await f.status(b!)).toBe('queued')
    expect(await f.queue()).toBe(0)
  })

  test('an empty body queues up to 100 tasks; num_tasks limits the number', async () => {
    const d = await f.dataset()
    await f.tasks(d, 103)
    expect(await f.queue({ num_tasks: 0 })).toBe(0)
    expect(await f.queue()).toBe(100)
    expect(await f.queue({ num_tasks: 2 })).toBe(2)
    expect(await f.queue({ num_tasks: 5 })).toBe(1)
    expect(t.count('task_queue')).toBe(103)
  })

  test('num_tasks has no maximum: one call queues at most 100,000 tasks', async () => {
    const d = await f.dataset()
    await f.tasks(d, 3)
    expect(await f.queue({ num_tasks: MAX_QUEUE_TASKS })).toBe(3)
    // More waiting tasks than one call queues, written in one statement (creating them through the API would take minutes), once.
    const many = await startSeededApp(async (seeding) => {
      const fixture = new QueueFixture(seeding)
      const dataset = await fixture.dataset()
      const job = await fixture.job(dataset)
      seeding.ctx.sqlite.query(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${MAX_QUEUE_TASKS})
        INSERT INTO tasks (task_id, doc) SELECT printf('%032x', i), json_object('task_id', printf('%032x', i), 'dataset_id', ?1, 'job_id', ?2,
          'job_index', 0, 'task_index', i, 'name', 'bulk', 'status', 'waiting', 'depends', json('[]'), 'requirements', json('{}')) FROM n`).run(dataset, job)
    }, { scheduler: false }, {}, { clock: clock.now })
    try {
      const queue = new QueueFixture(many)
      expect(many.count('tasks')).toBe(MAX_QUEUE_TASKS + 1)
      expect(await queue.queue({ num_tasks: 1e308 })).toBe(MAX_QUEUE_TASKS)
      expect(await queue.queue({ num_tasks: MAX_QUEUE_TASKS + 1 })).toBe(1)
    } finally {
      many.close()
    }
  })

  test('queues only tasks whose every dependency is complete, in creation order', async () => {
    const d = await f.dataset()
    const job = await f.job(d)
    const first = await f.task(d, { name: 'generate' }, job)
    const second = await f.task(d, { name: 'filter', depends: [first] }, job)
    const third = await f.task(d, { name: 'merge', depends: [first, second] }, job)
    const orphan = await f.task(d, { name: 'orphan', depends: ['0123456789abcdef0123456789abcdef'] })

    expect(await f.queue()).toBe(1)
    expect(await f.status(first)).toBe('queued')
    expect(await f.process()).toBe(first)
    // A dependency that is processing (or queued, or reset) is not complete.
    expect(await f.queue()).toBe(0)
    expect((await t.call('POST', `/tasks/${first}/task_actions/complete`, { body: {} })).status).toBe(200)

    expect(await f.queue()).toBe(1)
    expect(await f.status(second)).toBe('queued')
    expect(await f.status(third)).toBe('waiting')
    expect(await f.process()).toBe(second)
    await t.call('POST', `/tasks/${second}/task_actions/complete`, { body: {} })
    expect(await f.queue()).toBe(1)
    expect(await f.process()).toBe(third)
    // A dependency on a task that does not exist is never complete.
    expect(await f.queue()).toBe(0)
    expect(await f.status(orphan)).toBe('waiting')
  })

  test('a dependency that fails again after completing no longer counts as complete', async () => {
    const d = await f.dataset()
    const parent = await f.task(d)
    const child = await f.task(d, { depends: [parent] })
    await f.queue()
    await f.process()
    await t.call('PUT', `/tasks/${parent}/status`, { body: { status: 'complete' } })
    await t.call('PUT', `/tasks/${parent}/status`, { body: { status: 'failed' } })
    expect(await f.queue()).toBe(0)
    expect(await f.status(child)).toBe('waiting')
  })

  test('heavier datasets first, unlisted datasets weigh 0, creation order within a weight', async () => {
    const light = await f.dataset()
    const heavy = await f.dataset()
    const unlisted = await f.dataset()
    const negative = await f.dataset()
    const zero = await f.dataset()
    // Interleaved creation, so that creation order across datasets matters.
    const created: Record<string, string[]> = { light: [], heavy: [], unlisted: [], negative: [], zero: [] }
    const datasets: Record<string, string> = { light, heavy, unlisted, negative, zero }
    for (let i = 0; i < 2; i++) {
      for (const name of ['negative', 'unlisted', 'light', 'zero', 'heavy']) created[name]!.push(await f.task(datasets[name]!))
    }
    const dataset_prio = { [light]: 1, [heavy]: 5.5, [negative]: -1, [zero]: 0 }
    const all = Object.values(created).flat()
    const order: string[] = []
    for (let i = 0; i < 10; i++) {
      expect(await f.queue({ num_tasks: 1, dataset_prio })).toBe(1)
      const newlyQueued: string[] = []
      for (const id of all) if (!order.includes(id) && (await f.status(id)) === 'queued') newlyQueued.push(id)
      expect(newlyQueued).toHaveLength(1)
      order.push(newlyQueued[0]!)
    }
    const [u0, z0, u1, z1] = [created.unlisted![0], created.zero![0], created.unlisted![1], created.zero![1]]
    expect(order).toEqual([...created.heavy!, ...created.light!, u0!, z0!, u1!, z1!, ...created.negative!])
    expect(await f.queue({ dataset_prio })).toBe(0)
  })

  test('a dataset_prio entry for a dataset without tasks, or an unknown one, changes nothing', async () => {
    const d = await f.dataset()
    await f.tasks(d, 2)
    expect(await f.queue({ dataset_prio: { nosuchdataset: 10 } })).toBe(2)
  })

  test('tasks in statuses other than waiting are not queued, reset ones included', async () => {
    const d = await f.dataset()
    const ids = await f.tasks(d, 6)
    const statuses = ['idle', 'suspended', 'failed', 'complete', 'processing', 'reset']
    for (let i = 0; i < ids.length; i++) {
      expect((await t.call('PUT', `/tasks/${ids[i]}/status`, { body: { status: statuses[i] } })).status).toBe(200)
    }
    expect(await f.queue()).toBe(0)
    for (let i = 0; i < ids.length; i++) expect(await f.status(ids[i]!)).toBe(statuses[i]!)
  })

  test.each([
    [{ num_tasks: -1 }, 'num_tasks'],
    [{ num_tasks: 1.5 }, 'key num_tasks must be an integer'],
    [{ num_tasks: '10' }, 'key num_tasks must be an integer'],
    [{ dataset_prio: [] }, 'dataset_prio'],
    [{ dataset_prio: { d: 'high' } }, 'dataset_prio'],
  ])('rejects %j with 400 and queues nothing', async (body, message) => {
    const d = await f.dataset()
    await f.tasks(d, 1)
    const r = await t.call('POST', '/task_actions/queue', { body })
    expect(r.status).toBe(400)
    expect(r.body.code).toBe(400)
    expect(r.body.error).toContain(message)
    expect(t.count('task_queue')).toBe(0)
  })

  test('only admin and client may queue', async () => {
    await expectOnly('/task_actions/queue', ['system', 'pilot', 'user', 'anonymous'], { role: 'client', status: 200 })
  })
})

describe('POST /task_actions/process', () => {
  test('returns the claimed task, now processing with a new status_changed; 404 when the queue is empty', async () => {
    const d = await f.dataset()
    const id = await f.task(d, { requirements: { cpu: 1 }, note: { keep: [1, null] } })
    await f.queue()
    const queued = await f.get(id)
    clock.advance(1500)
    const r = await t.call('POST', '/task_actions/process', { token: await t.token('pilot'), body: { requirements: { cpu: 1 } } })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toStartWith('application/json')
    expect(r.body).toEqual({ ...queued, status: 'processing', status_changed: timestamp(clock.now()) })
    expect(r.body.status_changed > queued.status_changed).toBe(true)
    expect(await f.get(id)).toEqual(r.body)

    const none = await t.call('POST', '/task_actions/process', { token: await t.token('pilot'), body: {} })
    expect(none.status).toBe(404)
    expect(none.body).toEqual({ code: 404, error: expect.any(String) })
  })

  test('a waiting task is never handed out', async () => {
    const d = await f.dataset()
    await f.tasks(d, 2)
    expect(await f.process()).toBeUndefined()
  })

  test('highest dataset priority first, then the task created first', async () => {
    const low = await f.dataset()
    const high = await f.dataset(10)
    const mid = await f.dataset(2.5)
    const ids: Record<string, string[]> = { low: [], high: [], mid: [] }
    for (let i = 0; i < 2; i++) {
      ids.low!.push(await f.task(low))
      ids.mid!.push(await f.task(mid))
      ids.high!.push(await f.task(high))
    }
    expect(await f.queue()).toBe(6)
    expect(await f.processAll()).toEqual([...ids.high!, ...ids.mid!, ...ids.low!])
  })

  test('a body without requirements offers nothing; no body at all is 400 and claims nothing', async () => {
    const d = await f.dataset()
    const needsCpu = await f.task(d, { requirements: { cpu: 1 } })
    const needsNothing = await f.task(d, { requirements: { gpu: 0, os: null } })
    await f.queue()
    expect(await t.call('POST', '/task_actions/process')).toMatchObject({ status: 400, body: { code: 400, error: 'missing body' } })
    const empty = await t.call('POST', '/task_actions/process', { body: {} })
    expect(empty.status).toBe(200)
    expect(empty.body.task_id).toBe(needsNothing)
    expect(await f.process()).toBeUndefined()
    expect(await f.process({ cpu: 1 })).toBe(needsCpu)
  })

  test('matches requirements as API.md describes', async () => {
    const d = await f.dataset()
    const task = (requirements: Record<string, unknown>) => f.task(d, { requirements })
    const cpu4 = await task({ cpu: 4 })
    const mem = await task({ memory: 3.5 })
    const gpu = await task({ gpu: 1, cpu: 1 })
    const osList = await task({ os: ['RHEL_7', 'RHEL_8'] })
    const site = await task({ site: 'WIPAC' })
    const nulls = await task({ os: null, site: null, cpu: null })
    const nonPositive = await task({ gpu: 0, disk: -1 })
    expect(await f.queue()).toBe(7)

    // Only the tasks that state nothing, or only numbers <= 0, fit an offer of nothing, in creation order.
    expect(await f.process({})).toBe(nulls)
    expect(await f.process({ extra: 'keys constrain nothing' })).toBe(nonPositive)
    expect(await f.process({ os: 'Ubuntu', cpu: 3, memory: 3.4, site: 'wipac', gpu: 0 })).toBeUndefined()
    // A number is met by an offered number at least as large, not by a string.
    expect(await f.process({ memory: '8' })).toBeUndefined()
    expect(await f.process({ memory: 3.5 })).toBe(mem)
    expect(await f.process({ cpu: 8, gpu: 1 })).toBe(cpu4)
    expect(await f.process({ cpu: 8, gpu: 1 })).toBe(gpu)
    // A list is met by any of its values; anything else by an equal value.
    expect(await f.process({ os: 'RHEL_8', site: 'WIPAC' })).toBe(osList)
    expect(await f.process({ os: 'RHEL_8', site: 'WIPAC' })).toBe(site)
    expect(await f.process({ cpu: 100, gpu: 100, memory: 100, os: 'RHEL_7', site: 'WIPAC' })).toBeUndefined()
  })

  test('a task that does not fit is skipped, not lost: a later offer that fits takes it', async () => {
    const d = await f.dataset(1)
    const big = await f.task(d, { requirements: { memory: 16 } })
    const small = await f.task(d, { requirements: { memory: 1 } })
    await f.queue()
    expect(await f.process({ memory: 2 })).toBe(small)
    expect(await f.process({ memory: 2 })).toBeUndefined()
    expect(await f.process({ memory: 32 })).toBe(big)
  })

  test('a task taken out of the queue by a status change is no longer handed out', async () => {
    const d = await f.dataset()
    const [a, b] = await f.tasks(d, 2)
    await f.queue()
    expect((await t.call('PUT', `/tasks/${a}/status`, { body: { status: 'suspended' } })).status).toBe(200)
    expect(await f.processAll()).toEqual([b!])
    // Put back to queued by hand, it is handed out again.
    expect((await t.call('PUT', `/tasks/${a}/status`, { body: { status: 'queued' } })).status).toBe(200)
    expect(await f.process()).toBe(a)
  })

  test('requirements changed while queued are the ones matched', async () => {
    const d = await f.dataset()
    const id = await f.task(d, { requirements: { cpu: 1 } })
    await f.queue()
    expect((await t.call('PATCH', `/tasks/${id}`, { body: { requirements: { cpu: 1, os: 'RHEL_8' } } })).status).toBe(200)
    expect(await f.process({ cpu: 1 })).toBeUndefined()
    expect(await f.process({ cpu: 1, os: 'RHEL_8' })).toBe(id)
  })

  test('requirements that are not an object are 400', async () => {
    for (const requirements of [[], 'cpu', 3]) {
      const r = await t.call('POST', '/task_actions/process', { body: { requirements } })
      expect(r.status).toBe(400)
      expect(r.body.error).toContain('requirements')
    }
  })

  test('only admin and pilot may process', async () => {
    await expectOnly('/task_actions/process', ['system', 'client', 'user', 'anonymous'], { role: 'pilot', status: 404 })
  })
})

describe('POST /tasks/<task_id>/task_actions/reset', () => {
  test('counts a failure and adds time_used to the error walltime', async () => {
    const d = await f.dataset()
    const id = await f.task(d)
    await f.queue()
    await f.process()
    const processing = await f.get(id)
    const pilot = await t.token('pilot')
    const r = await t.call('POST', `/tasks/${id}/task_actions/reset`, { token: pilot, body: { time_used: 1800, reason: 'killed' } })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({
      ...processing,
      status: 'reset',
      status_changed: expect.stringMatching(TIMESTAMP),
      failures: 1,
      walltime_err: 0.5,
      walltime_err_n: 1,
    })
    expect(await f.get(id)).toEqual(r.body)
    const again = await t.call('POST', `/tasks/${id}/task_actions/reset`, { token: pilot, body: { time_used: 5400 } })
    expect(again.body).toMatchObject({ failures: 2, walltime_err: 2, walltime_err_n: 2 })
  })

  test('without time_used only the failure is counted', async () => {
    const d = await f.dataset()
    const id = await f.task(d)
    const r = await t.call('POST', `/tasks/${id}/task_actions/reset`, { body: {} })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ status: 'reset', failures: 1, walltime_err: 0, walltime_err_n: 0 })
    // No body at all is a bad request (API.md §1), and counts no failure.
    const noBody = await t.call('POST', `/tasks/${id}/task_actions/reset`)
    expect(noBody).toMatchObject({ status: 400, body: { code: 400, error: 'missing body' } })
    expect((await t.call('GET', `/tasks/${id}`)).body.failures).toBe(1)
  })

  test('resets a task from every status but complete; a queued task leaves the queue', async () => {
    const d = await f.dataset()
    const statuses = ['idle', 'waiting', 'queued', 'processing', 'reset', 'suspended', 'failed']
    const ids = await f.tasks(d, statuses.length)
    for (let i = 0; i < ids.length; i++) await t.call('PUT', `/tasks/${ids[i]}/status`, { body: { status: statuses[i] } })
    expect(t.count('task_queue')).toBe(1)
    for (const id of ids) {
      const r = await t.call('POST', `/tasks/${id}/task_actions/reset`, { body: {} })
      expect([id, r.status, r.body.status]).toEqual([id, 200, 'reset'])
    }
    expect(t.count('task_queue')).toBe(0)
  })

  test('404 for a complete task or a missing one, changing nothing', async () => {
    const d = await f.dataset()
    const id = await f.task(d)
    await t.call('PUT', `/tasks/${id}/status`, { body: { status: 'complete' } })
    const before = await f.get(id)
    const r = await t.call('POST', `/tasks/${id}/task_actions/reset`, { body: { time_used: 10 } })
    expect(r.status).toBe(404)
    expect(r.body).toEqual({ code: 404, error: expect.stringContaining('complete') })
    expect(await f.get(id)).toEqual(before)
    const missing = await t.call('POST', '/tasks/nosuchtask/task_actions/reset', { body: {} })
    expect(missing.status).toBe(404)
    expect(missing.body.error).toContain('not found')
  })

  test('a time_used that is not a number of seconds >= 0 is 400', async () => {
    const d = await f.dataset()
    const id = await f.task(d)
    for (const time_used of ['60', -1, null]) {
      const r = await t.call('POST', `/tasks/${id}/task_actions/reset`, { body: { time_used } })
      expect(r.status).toBe(400)
      expect(r.body.error).toContain('time_used')
    }
    expect(await f.get(id)).toMatchObject({ status: 'waiting', failures: 0 })
  })

  test('a reset task is not queued (API.md: queue moves waiting tasks); set waiting again, it is', async () => {
    const d = await f.dataset()
    const id = await f.task(d)
    await f.queue()
    await f.process()
    await t.call('POST', `/tasks/${id}/task_actions/reset`, { body: {} })
    expect(await f.queue()).toBe(0)
    expect(await f.process()).toBeUndefined()
    expect(await f.get(id)).toMatchObject({ status: 'reset', failures: 1 })
    expect((await t.call('PUT', `/tasks/${id}/status`, { body: { status: 'waiting' } })).status).toBe(200)
    expect(await f.queue()).toBe(1)
    expect(await f.process()).toBe(id)
    expect(await f.get(id)).toMatchObject({ status: 'processing', failures: 1 })
  })
})

describe('POST /tasks/<task_id>/task_actions/complete', () => {
  test('a processing task becomes complete with walltime = time_used / 3600', async () => {
    const d = await f.dataset()
    const id = await f.task(d)
    await f.queue()
    await f.process()
    const processing = await f.get(id)
    const r = await t.call('POST', `/tasks/${id}/task_actions/complete`, { token: await t.token('pilot'), body: { time_used: 5400 } })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ ...processing, status: 'complete', status_changed: expect.stringMatching(TIMESTAMP), walltime: 1.5 })
    expect(await f.get(id)).toEqual(r.body)
  })

  test('without time_used the walltime is left as it was', async () => {
    const d = await f.dataset()
    const id = await f.task(d)
    await t.call('PUT', `/tasks/${id}/status`, { body: { status: 'processing' } })
    const r = await t.call('POST', `/tasks/${id}/task_actions/complete`, { body: {} })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ status: 'complete', walltime: 0 })
  })

  test('404 unless the task exists and is processing, changing nothing', async () => {
    const d = await f.dataset()
    const statuses = ['idle', 'waiting', 'queued', 'reset', 'suspended', 'failed', 'complete']
    const ids = await f.tasks(d, statuses.length)
    for (let i = 0; i < ids.length; i++) await t.call('PUT', `/tasks/${ids[i]}/status`, { body: { status: statuses[i] } })
    for (let i = 0; i < ids.length; i++) {
      const before = await f.get(ids[i]!)
      const r = await t.call('POST', `/tasks/${ids[i]}/task_actions/complete`, { body: { time_used: 60 } })
      expect([statuses[i], r.status]).toEqual([statuses[i], 404])
      expect(r.body.error).toContain('not processing')
      expect(await f.get(ids[i]!)).toEqual(before)
    }
    expect((await t.call('POST', '/tasks/nosuchtask/task_actions/complete', { body: {} })).status).toBe(404)
  })

  test('a time_used that is not a number of seconds >= 0 is 400', async () => {
    const d = await f.dataset()
    const id = await f.task(d)
    await t.call('PUT', `/tasks/${id}/status`, { body: { status: 'processing' } })
    for (const time_used of ['60', -5, {}]) {
      expect((await t.call('POST', `/tasks/${id}/task_actions/complete`, { body: { time_used } })).status).toBe(400)
    }
    expect(await f.status(id)).toBe('processing')
  })

  test('only admin and pilot may reset or complete', async () => {
    const d = await f.dataset()
    const id = await f.task(d)
    for (const role of ['system', 'client', 'user', 'anonymous']) {
      const token = await t.token(role)
      expect((await t.call('POST', `/tasks/${id}/task_actions/reset`, { token, body: {} })).status).toBe(403)
      expect((await t.call('POST', `/tasks/${id}/task_actions/complete`, { token, body: {} })).status).toBe(403)
    }
    expect(await f.status(id)).toBe('waiting')
  })
})
