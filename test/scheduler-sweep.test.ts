/**
 * Lost tasks (API.md §6.4) with the scheduler on: deleting a pilot resets its
 * processing tasks; the sweep resets processing tasks no pilot lists once
 * they are older than the grace, and deletes pilots silent for longer than
 * the pilot timeout. Time comes from an injected clock the tests move on.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { historyOf, steps } from './history-support'
import { QueueFixture } from './queue-support'
import { reasonCode } from '../src/modules/history/reasons'
import { ClaimService } from '../src/modules/queue/claims'
import { TASK_STATUSES } from '../src/status'
import { startTestApp, type TestApp } from './support'

// Both small beside the tokens' hour: the tests move the clock that also expires them.
const GRACE = 60
const PILOT_TIMEOUT = 1800
let offset = 0
const clock = () => Date.now() + offset

let t: TestApp
let f: QueueFixture
let pilotToken: string
beforeAll(async () => {
  t = await startTestApp({ taskGrace: GRACE, pilotTimeout: PILOT_TIMEOUT }, {}, { clock })
  f = new QueueFixture(t)
  pilotToken = await t.token('pilot')
})
afterAll(() => t.close())

// Each test's tasks require a site of their own, so that a claim takes only that test's tasks.
let site = 0
const claim = (body: Record<string, unknown> = {}) =>
  t.call('POST', '/task_actions/process', { body: { requirements: { site: `site-${site}` }, ...body }, token: pilotToken })
const task = async (datasetId?: string) => f.task(datasetId ?? (await f.dataset()), { requirements: { site: `site-${site}` } })
beforeEach(() => {
  site++
})
const newPilot = async (tasks: string[] = []) =>
  (await t.call('POST', '/pilots', { body: { queue_host: 'ce', queue_version: '1', resources: {}, tasks } })).body.result as string
/** A new queued task, claimed (by `pilotId` when given): its id and instance_id. */
async function processing(pilotId?: string): Promise<{ taskId: string; instanceId: string }> {
  const taskId = await task()
  const r = await claim(pilotId === undefined ? {} : { pilot_id: pilotId })
  expect(r.body.task_id).toBe(taskId)
  return { taskId, instanceId: r.body.instance_id }
}
const sweep = () => t.scheduler.sweep.run()
/** Moves the clock past the grace of every task processing now (but not past the pilot timeout). */
const pastGrace = () => (offset += (GRACE + 1) * 1000)

describe('deleting a pilot', () => {
  test('resets its tasks still processing, with evictions + 1 and failures unchanged, in the same request', async () => {
    const pilotId = await newPilot()
    const { taskId, instanceId } = await processing(pilotId)
    const done = await processing(pilotId)
    await t.call('POST', `/tasks/${done.taskId}/task_actions/complete`, { body: {}, token: pilotToken })
    expect((await t.call('DELETE', `/pilots/${pilotId}`)).status).toBe(200)
    const task = await f.get(taskId)
    expect(task).toMatchObject({ status: 'queued', evictions: 1, failures: 0 })
    expect(await f.status(done.taskId)).toBe('complete')
    const entries = await historyOf(t, task.dataset_id, 'tasks', taskId)
    expect(steps(entries)).toEqual(['queued>processing', 'processing>reset', 'reset>waiting', 'waiting>queued'])
    expect(entries[1]).toMatchObject({ by: 'server', reason: 'its pilot was deleted' })
    // The pilot's late answer is refused.
    const late = await t.call('POST', `/tasks/${taskId}/task_actions/complete`, { body: { instance_id: instanceId }, token: pilotToken })
    expect(late.status).toBe(409)
  })

  test('a task another pilot claimed since leaves the first pilot, which no longer takes it back', async () => {
    const first = await newPilot()
    const { taskId } = await processing(first)
    await t.call('PUT', `/tasks/${taskId}/status`, { body: { status: 'queued' } })
    const second = await newPilot()
    expect((await claim({ pilot_id: second })).body.task_id).toBe(taskId)
    expect((await t.call('GET', `/pilots/${first}`)).body.tasks).toEqual([])
    await t.call('DELETE', `/pilots/${first}`)
    expect(await f.status(taskId)).toBe('processing')
  })
})

describe('the sweep', () => {
  test('resets a processing task that no pilot lists once it is older than the grace', async () => {
    const lost = await processing()
    const listedBy = await newPilot()
    const listed = await processing(listedBy)
    await sweep()
    expect(await f.status(lost.taskId)).toBe('processing')
    pastGrace()
    const young = await processing()
    const outcome = await sweep()
    expect(outcome.tasksReset).toBeGreaterThanOrEqual(1)
    expect(outcome.seconds).toBeGreaterThan(0)
    expect(await f.get(lost.taskId)).toMatchObject({ status: 'queued', evictions: 1, failures: 0 })
    const task = await f.get(lost.taskId)
    expect((await historyOf(t, task.dataset_id, 'tasks', lost.taskId))[1]).toMatchObject({ from: 'processing', to: 'reset', by: 'server', reason: 'lost: no pilot lists it' })
    expect(await f.status(listed.taskId)).toBe('processing')
    expect(await f.status(young.taskId)).toBe('processing')
  })

  test('a task its pilot stops listing is lost too', async () => {
    const pilotId = await newPilot()
    const { taskId } = await processing(pilotId)
    await t.call('PUT', `/pilots/${pilotId}/tasks`, { body: { tasks: [] } })
    pastGrace()
    await sweep()
    expect(await f.status(taskId)).toBe('queued')
  })

  test('deletes pilots silent for longer than the pilot timeout, resetting their tasks', async () => {
    const silent = await newPilot()
    const { taskId } = await processing(silent)
    offset += (PILOT_TIMEOUT + 1) * 1000
    const fresh = await newPilot()
    const heard = await processing(fresh)
    const outcome = await sweep()
    expect(outcome.pilotsDeleted).toBeGreaterThanOrEqual(1)
    expect((await t.call('GET', `/pilots/${silent}`)).status).toBe(404)
    expect((await t.call('GET', `/pilots/${fresh}`)).status).toBe(200)
    const task = await f.get(taskId)
    expect(task).toMatchObject({ status: 'queued', evictions: 1 })
    expect((await historyOf(t, task.dataset_id, 'tasks', taskId))[1]).toMatchObject({ reason: 'its pilot timed out' })
    expect(await f.status(heard.taskId)).toBe('processing')
  })

  test('evictions add up and never count as failures; a dataset in debug mode suspends the task', async () => {
    const taskId = await task(await f.dataset(undefined, { debug: true }))
    await claim()
    pastGrace()
    await sweep()
    expect(await f.get(taskId)).toMatchObject({ status: 'suspended', evictions: 1, failures: 0 })
  })

  test('many lost tasks are reset over several short transactions', async () => {
    const d = await f.dataset()
    const job = await f.job(d)
    await f.tasks(d, 600, { requirements: { site: `site-${site}` } }, job)
    // Claimed through the service the route calls: the sweep is what is tested here.
    const claims = new ClaimService(t.ctx.db, t.ctx.transitions, t.ctx.clock, t.ctx.offers)
    await Promise.all(Array.from({ length: 600 }, () => claims.claim({ site: `site-${site}` }, { username: 'pilot', role: 'pilot' })))
    expect((await t.call('GET', `/datasets/${d}/task_counts/status`)).body).toEqual({ processing: 600 })
    pastGrace()
    const outcome = await sweep()
    expect(outcome.tasksReset).toBeGreaterThanOrEqual(600)
    expect((await t.call('GET', `/datasets/${d}/task_counts/status`)).body).toEqual({ queued: 600 })
  })
})

describe('with the scheduler off', () => {
  test('deleting a pilot leaves its tasks as they are, and sweeps reset nothing', async () => {
    let offOffset = 0
    const off = await startTestApp({ scheduler: false, taskGrace: 1, pilotTimeout: 1 }, {}, { clock: () => Date.now() + offOffset })
    try {
      const fixture = new QueueFixture(off)
      const taskId = await fixture.task(await fixture.dataset())
      await fixture.queue()
      const pilotId = (await off.call('POST', '/pilots', { body: { queue_host: 'ce', queue_version: '1', resources: {}, tasks: [taskId] } })).body.result
      expect(await fixture.process()).toBe(taskId)
      offOffset += 10_000
      expect(await off.scheduler.sweep.run()).toMatchObject({ tasksReset: 0 })
      await off.call('DELETE', `/pilots/${pilotId}`)
      expect(await fixture.get(taskId)).toMatchObject({ status: 'processing', evictions: 0 })
    } finally {
      off.close()
    }
  })
})

describe('/metrics', () => {
  test("counts the scheduler's changes by resource, status and reason (equal to the history's server entries), and the sweeps", async () => {
    await processing()
    pastGrace()
    await sweep()
    const text = (await t.call('GET', '/metrics')).text
    const sample = (name: string) => Number(text.split('\n').find((line) => line.startsWith(name))?.split(' ').at(-1))
    const lost = 'iceprod_scheduler_changes_total{resource="task",status="reset",reason="lost: no pilot lists it"}'
    const recount = t.ctx.sqlite
      .query('SELECT count(*) AS n FROM status_history WHERE username IS NULL AND kind = 2 AND to_status = ? AND reason_code = ?')
      .get(TASK_STATUSES.indexOf('reset'), reasonCode('lost: no pilot lists it')) as { n: number }
    expect(recount.n).toBeGreaterThan(0)
    expect(sample(lost)).toBe(recount.n)
    const servers = t.ctx.sqlite.query('SELECT count(*) AS n FROM status_history WHERE username IS NULL').get() as { n: number }
    const counted = text.split('\n').filter((line) => line.startsWith('iceprod_scheduler_changes_total{')).reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)
    expect(counted).toBe(servers.n)
    expect(sample('iceprod_scheduler_sweeps_total')).toBe(t.scheduler.sweep.done.sweeps)
    expect(sample('iceprod_scheduler_last_sweep_seconds')).toBeGreaterThan(0)
  })
})
