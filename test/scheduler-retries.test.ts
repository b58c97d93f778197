/**
 * Retries (API.md §6.3) with the scheduler on: a reset task runs again,
 * fails once its failures exceed max_failures, or is suspended in a debug
 * dataset, in the transaction of the reset; the reset's reason becomes the
 * failure_reason, and the resources it used raise its requirements.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { QueueFixture } from './queue-support'
import { expectChain, historyOf, steps } from './history-support'
import { startTestApp, type TestApp } from './support'

let t: TestApp
let f: QueueFixture
let pilot: string
beforeAll(async () => {
  t = await startTestApp({ maxFailures: 2 })
  f = new QueueFixture(t)
  pilot = await t.token('pilot', { username: 'pilot-9' })
})
afterAll(() => t.close())

const claim = (body: Record<string, unknown> = {}) => t.call('POST', '/task_actions/process', { body, token: pilot })
const reset = (taskId: string, body: Record<string, unknown> = {}) => t.call('POST', `/tasks/${taskId}/task_actions/reset`, { body, token: pilot })
async function drain(): Promise<void> {
  while ((await claim()).status === 200);
}
/** A dataset with extra fields, e.g. debug or max_failures. */
const dataset = (extra: Record<string, unknown> = {}) => f.dataset(undefined, extra)
const BIG_OFFER = { requirements: { cpu: 8, memory: 64, disk: 100, time: 24 } }
/** Claims the (only) queued task and resets it with `body`; the reset's answer. */
async function failOnce(taskId: string, body: Record<string, unknown> = {}) {
  const claimed = await claim(BIG_OFFER)
  expect(claimed.body.task_id).toBe(taskId)
  const r = await reset(taskId, { instance_id: claimed.body.instance_id, ...body })
  expect(r.status).toBe(200)
  return r.body
}

describe('a reset task moves on in the same request', () => {
  test('to waiting and on to queued, with the reason as failure_reason and three history entries', async () => {
    await drain()
    const d = await dataset()
    const taskId = await f.task(d)
    const answer = await failOnce(taskId, { reason: 'segfault', time_used: 36 })
    expect(answer).toMatchObject({ task_id: taskId, status: 'queued', failures: 1, failure_reason: 'segfault', walltime_err: 0.01 })
    expect(await f.get(taskId)).toEqual(answer)
    const entries = await historyOf(t, d, 'tasks', taskId)
    expect(steps(entries)).toEqual(['queued>processing', 'processing>reset', 'reset>waiting', 'waiting>queued'])
    expect(entries.slice(1).map((e) => [e.by, e.reason])).toEqual([
      [{ username: 'pilot-9', role: 'pilot' }, 'segfault'],
      ['server', 'retry after reset'],
      ['server', 'no dependencies'],
    ])
    expectChain(entries, 'queued')
  })

  test('to failed once its failures exceed the dataset max_failures', async () => {
    await drain()
    const d = await dataset({ max_failures: 1 })
    const taskId = await f.task(d)
    expect((await failOnce(taskId, { reason: 'first' })).status).toBe('queued')
    const second = await failOnce(taskId, { reason: 'second' })
    expect(second).toMatchObject({ status: 'failed', failures: 2, failure_reason: 'second' })
    const entries = await historyOf(t, d, 'tasks', taskId)
    expect(entries.at(-1)).toMatchObject({ from: 'reset', to: 'failed', by: 'server', reason: 'failures exceed max_failures' })
    expectChain(entries, 'failed')
    expect((await claim()).status).toBe(404)
  })

  test('ICEPROD_MAX_FAILURES applies to datasets without max_failures', async () => {
    await drain()
    const d = await dataset()
    const taskId = await f.task(d)
    expect((await failOnce(taskId)).status).toBe('queued')
    expect((await failOnce(taskId)).status).toBe('queued')
    expect((await failOnce(taskId)).status).toBe('failed')
  })

  test('max_failures 0: the first failure fails the task', async () => {
    await drain()
    const taskId = await f.task(await dataset({ max_failures: 0 }))
    expect((await failOnce(taskId)).status).toBe('failed')
  })

  test('to suspended in a debug dataset', async () => {
    await drain()
    const d = await dataset({ debug: true })
    const taskId = await f.task(d)
    const answer = await failOnce(taskId, { reason: 'look at me' })
    expect(answer).toMatchObject({ status: 'suspended', failures: 1, failure_reason: 'look at me' })
    expect((await historyOf(t, d, 'tasks', taskId)).at(-1)).toMatchObject({ to: 'suspended', reason: 'dataset in debug mode' })
  })

  test('a reset by status PUT moves on too, without counting a failure', async () => {
    await drain()
    const d = await dataset()
    const taskId = await f.task(d)
    await t.call('PUT', `/tasks/${taskId}/status`, { body: { status: 'reset' } })
    const task = await f.get(taskId)
    expect(task).toMatchObject({ status: 'queued', failures: 0 })
    expect('failure_reason' in task).toBe(false)
    expect(steps(await historyOf(t, d, 'tasks', taskId))).toEqual(['queued>reset', 'reset>waiting', 'waiting>queued'])
    const patched = await t.call('PATCH', `/tasks/${taskId}`, { body: { status: 'reset' } })
    expect(patched.body.status).toBe('queued')
  })

  test('a task waiting for an unfinished dependency stays waiting', async () => {
    await drain()
    const d = await dataset()
    const job = await f.job(d)
    const first = await f.task(d, {}, job)
    const second = await f.task(d, { depends: [first] }, job)
    await t.call('PUT', `/tasks/${second}/status`, { body: { status: 'reset' } })
    expect(await f.status(second)).toBe('waiting')
  })
})

describe('resources raise the requirements the use exceeded', () => {
  test('memory, disk and time to 1.5 x the use; the retry goes to a larger slot', async () => {
    await drain()
    const d = await dataset()
    const taskId = await f.task(d, { requirements: { cpu: 1, memory: 2, disk: 10, time: 1, os: 'RHEL_8' } })
    const claimed = await claim({ requirements: { ...BIG_OFFER.requirements, os: 'RHEL_8' } })
    expect(claimed.body.task_id).toBe(taskId)
    const answer = (await reset(taskId, { resources: { memory: 3.1, disk: 5, time: 2, cpu: 8 } })).body
    expect(answer.requirements).toEqual({ cpu: 1, memory: 4.65, disk: 10, time: 3, os: 'RHEL_8' })
    expect((await claim({ requirements: { cpu: 1, memory: 4, disk: 10, time: 4, os: 'RHEL_8' } })).status).toBe(404)
    expect((await claim({ requirements: { cpu: 1, memory: 5, disk: 10, time: 4, os: 'RHEL_8' } })).body.task_id).toBe(taskId)
  })

  test('a missing requirement counts as 0; one that is not a number is left alone; uses that are not numbers count for nothing', async () => {
    await drain()
    const taskId = await f.task(await dataset(), { requirements: { memory: '4GB' } })
    expect((await claim({ requirements: { memory: '4GB' } })).body.task_id).toBe(taskId)
    const answer = (await reset(taskId, { resources: { memory: 9, disk: 2, time: 'long' } })).body
    expect(answer.requirements).toEqual({ memory: '4GB', disk: 3 })
  })
})

describe('bad reset bodies change nothing', () => {
  test.each([
    ['reason', { reason: 5 }],
    ['resources', { resources: [1] }],
    ['instance_id', { instance_id: 12 }],
  ])('%s of the wrong type is 400', async (key, body) => {
    await drain()
    const taskId = await f.task(await dataset())
    await claim()
    const before = await f.get(taskId)
    const r = await reset(taskId, body)
    expect(r.status).toBe(400)
    expect(r.body.error).toContain(key)
    expect(await f.get(taskId)).toEqual(before)
  })
})
