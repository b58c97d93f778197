/**
 * The scheduler's queueing and claims (API.md §6.2), with ICEPROD_SCHEDULER on
 * (the default): tasks are queued as soon as they are ready, claims go only
 * to active datasets and jobs, in fair-share order, carry an instance_id, and
 * may name the pilot whose tasks they join.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { QueueFixture } from './queue-support'
import { expectChain, historyOf, steps } from './history-support'
import { ID, startTestApp, type TestApp } from './support'

let t: TestApp
let f: QueueFixture
let pilotToken: string
beforeAll(async () => {
  t = await startTestApp()
  f = new QueueFixture(t)
  pilotToken = await t.token('pilot', { username: 'pilot-1' })
})
afterAll(() => t.close())

const claim = (body: Record<string, unknown> = {}) => t.call('POST', '/task_actions/process', { body, token: pilotToken })
const complete = (taskId: string, body: Record<string, unknown> = {}) => t.call('POST', `/tasks/${taskId}/task_actions/complete`, { body, token: pilotToken })
const setStatus = (taskId: string, status: string) => t.call('PUT', `/tasks/${taskId}/status`, { body: { status } })
/** Claims until the queue answers 404; the claimed tasks in order. */
async function drain(body: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = []
  for (let r = await claim(body); r.status === 200; r = await claim(body)) ids.push(r.body.task_id)
  return ids
}

describe('queueing', () => {
  test('a task with nothing to wait for is created queued, without a history entry', async () => {
    const d = await f.dataset()
    const taskId = await f.task(d)
    expect(await f.status(taskId)).toBe('queued')
    expect(await historyOf(t, d, 'tasks', taskId)).toEqual([])
    expect(t.ctx.sqlite.query('SELECT count(*) AS n FROM task_queue WHERE task_id = ?').get(taskId)).toEqual({ n: 1 })
  })

  test('a task created waiting for complete tasks only is queued too; waiting for others, it waits', async () => {
    const d = await f.dataset()
    const job = await f.job(d)
    const done = await f.task(d, {}, job)
    await setStatus(done, 'complete')
    const open = await f.task(d, {}, job)
    expect(await f.status(await f.task(d, { depends: [done] }, job))).toBe('queued')
    expect(await f.status(await f.task(d, { depends: [done, open] }, job))).toBe('waiting')
    expect(await f.status(await f.task(d, { depends: ['nosuchtask'] }, job))).toBe('waiting')
  })

  test('completing the last dependency queues the waiting task in the same request', async () => {
    await drain()
    const d = await f.dataset()
    const job = await f.job(d)
    const a = await f.task(d, { name: 'a' }, job)
    const b = await f.task(d, { name: 'b' }, job)
    const c = await f.task(d, { name: 'c', depends: [a, b] }, job)
    expect(await drain()).toEqual([a, b])
    expect((await complete(a)).status).toBe(200)
    expect(await f.status(c)).toBe('waiting')
    expect((await complete(b)).status).toBe(200)
    expect(await f.status(c)).toBe('queued')
    const entries = await historyOf(t, d, 'tasks', c)
    expect(entries).toEqual([{ time: expect.any(String), from: 'waiting', to: 'queued', by: 'server', reason: 'dependencies complete' }])
    expect(await drain()).toEqual([c])
  })

  test('a task set waiting while ready is queued at once: the request and the server each write their entry', async () => {
    const d = await f.dataset()
    const taskId = await f.task(d)
    await setStatus(taskId, 'suspended')
    await setStatus(taskId, 'waiting')
    expect(await f.status(taskId)).toBe('queued')
    const entries = await historyOf(t, d, 'tasks', taskId)
    expect(steps(entries)).toEqual(['queued>suspended', 'suspended>waiting', 'waiting>queued'])
    expect(entries[2]).toMatchObject({ by: 'server', reason: 'no dependencies' })
    expectChain(entries, 'queued')
  })

  test('a PATCH that makes a queued task depend on tasks not complete sends it back to waiting, out of the queue, until they complete', async () => {
    await drain()
    const d = await f.dataset()
    const job = await f.job(d)
    const up = await f.task(d, { name: 'up' }, job)
    const task = await f.task(d, { name: 'task' }, job)
    expect([await f.status(up), await f.status(task)]).toEqual(['queued', 'queued'])
    const patched = await t.call('PATCH', `/tasks/${task}`, { body: { depends: [up] } })
    expect(patched.body).toMatchObject({ status: 'waiting', depends: [up] })
    expect(patched.body).toEqual((await t.call('GET', `/tasks/${task}`)).body)
    expect((await historyOf(t, d, 'tasks', task)).at(-1)).toMatchObject({ from: 'queued', to: 'waiting', by: 'server', reason: 'dependencies not complete' })
    expect(t.ctx.sqlite.query('SELECT count(*) AS n FROM task_queue WHERE task_id = ?').get(task)).toEqual({ n: 0 })
    // A claim hands out only what it waits for; once that completes, it is queued again.
    expect(await drain()).toEqual([up])
    expect((await complete(up)).status).toBe(200)
    expect(await drain()).toEqual([task])
    const entries = await historyOf(t, d, 'tasks', task)
    expect(steps(entries)).toEqual(['queued>waiting', 'waiting>queued', 'queued>processing'])
    expect(entries[1]).toMatchObject({ by: 'server', reason: 'dependencies complete' })
    expectChain(entries, 'processing')
  })

  test('a PATCH of depends leaves a queued task queued when they are all complete, and is looked at after the status it sets', async () => {
    await drain()
    const d = await f.dataset()
    const job = await f.job(d)
    const done = await f.task(d, { name: 'done' }, job)
    await setStatus(done, 'complete')
    const open = await f.task(d, { name: 'open' }, job)
    const task = await f.task(d, { name: 'task' }, job)
    expect((await t.call('PATCH', `/tasks/${task}`, { body: { depends: [done] } })).body.status).toBe('queued')
    expect(await historyOf(t, d, 'tasks', task)).toEqual([])
    // Set queued by the same PATCH that makes it wait for a task not complete: the client's entry, then the server's.
    await setStatus(task, 'suspended')
    expect((await t.call('PATCH', `/tasks/${task}`, { body: { status: 'queued', depends: [done, open] } })).body.status).toBe('waiting')
    const entries = await historyOf(t, d, 'tasks', task)
    expect(steps(entries)).toEqual(['queued>suspended', 'suspended>queued', 'queued>waiting'])
    expect(entries[2]).toMatchObject({ by: 'server', reason: 'dependencies not complete' })
    expect(await drain()).toEqual([open])
  })

  test('POST /task_actions/queue keeps working: it finds nothing left to queue', async () => {
    const d = await f.dataset()
    await f.tasks(d, 2)
    expect(await f.queue()).toBe(0)
  })
})

describe('claims', () => {
  test('only tasks of processing or truncated datasets and of processing jobs are handed out', async () => {
    await drain()
    const suspended = await f.dataset()
    const truncated = await f.dataset()
    const active = await f.dataset()
    const inSuspended = await f.task(suspended)
    const inTruncated = await f.task(truncated)
    const stoppedJob = await f.job(active)
    const inStoppedJob = await f.task(active, {}, stoppedJob)
    const inActive = await f.task(active)
    await t.call('PUT', `/datasets/${suspended}/status`, { body: { status: 'suspended' } })
    await t.call('PUT', `/datasets/${truncated}/status`, { body: { status: 'truncated' } })
    await t.call('PUT', `/datasets/${active}/jobs/${stoppedJob}/status`, { body: { status: 'suspended' } })
    expect((await drain()).sort()).toEqual([inTruncated, inActive].sort())
    expect(await f.status(inSuspended)).toBe('queued')
    expect(await f.status(inStoppedJob)).toBe('queued')
    await t.call('PUT', `/datasets/${suspended}/status`, { body: { status: 'processing' } })
    await t.call('PUT', `/datasets/${active}/jobs/${stoppedJob}/status`, { body: { status: 'processing' } })
    expect((await drain()).sort()).toEqual([inSuspended, inStoppedJob].sort())
  })

  /** Datasets `older` and `newer` of priority 1 and `urgent` of 5; `older` has one task processing already. */
  async function fairShareSetup() {
    await drain()
    const older = await f.dataset(1)
    const newer = await f.dataset(1)
    const urgent = await f.dataset(5)
    const o = await f.tasks(older, 4)
    const n = await f.tasks(newer, 3)
    const u = await f.tasks(urgent, 2)
    await setStatus(await f.task(older), 'processing')
    // Priority 5 first; then the priority-1 dataset with fewer processing, the older one on a tie.
    return [u[0], u[1], n[0], o[0], n[1], o[1], n[2], o[2], o[3]]
  }

  test('fair share: highest priority first; among equal priorities, the dataset with fewest processing; then the older dataset', async () => {
    const expected = await fairShareSetup()
    expect(await drain()).toEqual(expected)
  })

  test('fair share holds among claims that share one transaction', async () => {
    const expected = await fairShareSetup()
    const answers = await Promise.all(expected.map(() => claim()))
    expect(answers.map((r) => r.body.task_id)).toEqual(expected)
  })

  test('within a dataset, the task created first that fits the offer', async () => {
    await drain()
    const d = await f.dataset()
    const big = await f.task(d, { requirements: { memory: 8 } })
    const small = await f.task(d, { requirements: { memory: 1 } })
    const other = await f.task(d, { requirements: { os: 'RHEL_8' } })
    expect(await drain({ requirements: { memory: 2 } })).toEqual([small])
    expect(await drain({ requirements: { memory: 16, os: 'RHEL_8' } })).toEqual([big, other])
  })

  test('every claim sets a new instance_id, returned with the task', async () => {
    await drain()
    const d = await f.dataset()
    const taskId = await f.task(d)
    const first = await claim()
    expect(first.body.instance_id).toMatch(ID)
    await setStatus(taskId, 'queued')
    const second = await claim()
    expect(second.body.task_id).toBe(taskId)
    expect(second.body.instance_id).toMatch(ID)
    expect(second.body.instance_id).not.toBe(first.body.instance_id)
    expect((await f.get(taskId)).instance_id).toBe(second.body.instance_id)
  })
})

describe('instance_id on complete and reset', () => {
  test('a stale instance_id is 409 and changes nothing; the current one, or none, acts', async () => {
    await drain()
    const d = await f.dataset()
    const taskId = await f.task(d)
    const stale = (await claim()).body.instance_id
    await setStatus(taskId, 'queued')
    const current = (await claim()).body.instance_id
    const before = await f.get(taskId)
    const entries = await historyOf(t, d, 'tasks', taskId)
    for (const action of ['complete', 'reset']) {
      const r = await t.call('POST', `/tasks/${taskId}/task_actions/${action}`, { body: { instance_id: stale, time_used: 5 }, token: pilotToken })
      expect({ action, status: r.status, body: r.body }).toEqual({ action, status: 409, body: { code: 409, error: expect.stringContaining(stale) } })
    }
    expect(await f.get(taskId)).toEqual(before)
    expect(await historyOf(t, d, 'tasks', taskId)).toEqual(entries)
    const done = await complete(taskId, { instance_id: current, time_used: 36 })
    expect(done.status).toBe(200)
    expect(done.body).toMatchObject({ status: 'complete', walltime: 0.01, instance_id: current })
  })

  test('once the task has left processing, its last instance_id is stale too', async () => {
    await drain()
    const d = await f.dataset()
    const taskId = await f.task(d)
    const instance = (await claim()).body.instance_id
    await setStatus(taskId, 'queued')
    const r = await t.call('POST', `/tasks/${taskId}/task_actions/reset`, { body: { instance_id: instance }, token: pilotToken })
    expect(r.status).toBe(409)
    expect(await f.status(taskId)).toBe('queued')
    expect((await complete('nosuchtask', { instance_id: instance })).status).toBe(404)
  })

  test('without an instance_id the actions work as before', async () => {
    await drain()
    const d = await f.dataset()
    const taskId = await f.task(d)
    await claim()
    expect((await complete(taskId)).body.status).toBe('complete')
  })
})

describe('pilot_id', () => {
  test("the claimed task joins the pilot's tasks in the same request, and the pilot's last_update is refreshed", async () => {
    await drain()
    const d = await f.dataset()
    const [a, b] = await f.tasks(d, 2)
    const pilotId = (await t.call('POST', '/pilots', { body: { queue_host: 'h', queue_version: '1', resources: {}, tasks: ['earlier'] } })).body.result
    const registered = (await t.call('GET', `/pilots/${pilotId}`)).body
    expect((await claim({ pilot_id: pilotId })).body.task_id).toBe(a)
    expect((await claim({ pilot_id: pilotId })).body.task_id).toBe(b)
    const pilot = (await t.call('GET', `/pilots/${pilotId}`)).body
    expect(pilot.tasks).toEqual(['earlier', a, b])
    expect(pilot.last_update > registered.last_update).toBe(true)
  })

  test('an unknown pilot_id is 400 and hands out nothing', async () => {
    await drain()
    const d = await f.dataset()
    const taskId = await f.task(d)
    const r = await claim({ pilot_id: 'nosuchpilot' })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ code: 400, error: 'no such pilot: nosuchpilot' })
    expect(await f.status(taskId)).toBe('queued')
    expect(await historyOf(t, d, 'tasks', taskId)).toEqual([])
    expect((await claim({ pilot_id: 7 })).status).toBe(400)
    expect(await f.status(taskId)).toBe('queued')
  })
})
