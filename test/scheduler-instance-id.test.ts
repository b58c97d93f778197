/**
 * With the scheduler on, every task is made with an `instance_id` (POST
 * /tasks and the materializer alike), and each claim writes a new one over
 * it (API.md §6.2): the claim replaces an id of the same length, so the
 * document grows by no more than its longer status, and the id a task was
 * born with is never a claim's (complete or reset naming it is 409).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { historyOf } from './history-support'
import { QueueFixture } from './queue-support'
import { FakeClock, ID, startTestApp, type TestApp } from './support'

const clock = new FakeClock()
let t: TestApp
let f: QueueFixture
let pilotToken: string
beforeAll(async () => {
  t = await startTestApp({}, {}, { clock: clock.now })
  f = new QueueFixture(t)
  pilotToken = await t.token('pilot', { username: 'pilot-1' })
})
afterAll(() => t.close())

/** An offer every task here fits (a materialized task requires the config's defaults). */
const OFFER = { cpu: 1, gpu: 0, memory: 1, disk: 10, time: 1 }
const claim = () => t.call('POST', '/task_actions/process', { body: { requirements: OFFER }, token: pilotToken })
const answer = (taskId: string, action: string, instanceId: string) =>
  t.call('POST', `/tasks/${taskId}/task_actions/${action}`, { body: { instance_id: instanceId, time_used: 5 }, token: pilotToken })
/** The stored document's text and its length as SQLite counts it. */
const stored = (taskId: string) => t.ctx.sqlite.query('SELECT doc, length(doc) AS length FROM tasks WHERE task_id = ?').get(taskId) as { doc: string; length: number }
/** What a claim adds to a queued task's document: its status's longer name, nothing for the instance_id. */
const STATUS_GROWTH = 'processing'.length - 'queued'.length

async function drain(): Promise<void> {
  while ((await claim()).status === 200);
}

/** A materialized dataset of one job of one task; the task's id. */
async function materializedTask(): Promise<string> {
  const d = await f.dataset(undefined, { jobs_submitted: 1 })
  expect((await t.call('PUT', `/datasets/${d}/config`, { body: { tasks: [{ name: 'only' }] } })).status).toBe(200)
  await t.scheduler.materializer.idle()
  const tasks = Object.keys((await t.call('GET', `/datasets/${d}/tasks`)).body)
  expect(tasks.length).toBe(1)
  return tasks[0]!
}

/** A queued task made by POST /tasks, and one by the materializer. */
const MAKERS: [string, () => Promise<string>][] = [
  ['POST /tasks', async () => f.task(await f.dataset())],
  ['the materializer', materializedTask],
]

describe('a new task carries an instance_id', () => {
  for (const [maker, make] of MAKERS) {
    test(`made by ${maker}: 32 hex, another for each task`, async () => {
      const [a, b] = [await make(), await make()]
      const born = [(await f.get(a)).instance_id, (await f.get(b)).instance_id]
      expect(born[0]).toMatch(ID)
      expect(born[1]).toMatch(ID)
      expect(born[0]).not.toBe(born[1])
    })
  }

  test("a client's own instance_id in POST /tasks is replaced, as the other server fields are", async () => {
    const taskId = await f.task(await f.dataset(), { instance_id: 'mine', status: 'processing', failures: 7 })
    const task = await f.get(taskId)
    expect(task).toMatchObject({ status: 'queued', failures: 0 })
    expect(task.instance_id).toMatch(ID)
  })
})

describe('a claim writes a new instance_id over it', () => {
  for (const [maker, make] of MAKERS) {
    test(`made by ${maker}: another id, returned; the document keeps its length but for its status`, async () => {
      await drain()
      const taskId = await make()
      const before = stored(taskId)
      const born = JSON.parse(before.doc).instance_id as string
      clock.advance(60_000)
      const claimed = await claim()
      expect(claimed.status).toBe(200)
      expect(claimed.body.task_id).toBe(taskId)
      expect(claimed.body.instance_id).toMatch(ID)
      expect(claimed.body.instance_id).not.toBe(born)
      const after = stored(taskId)
      expect(after.length - before.length).toBe(STATUS_GROWTH)
      // Only what a claim changes: the status, its time, the instance_id.
      expect(JSON.parse(after.doc)).toEqual({ ...JSON.parse(before.doc), status: 'processing', status_changed: claimed.body.status_changed, instance_id: claimed.body.instance_id })
      expect(claimed.body.status_changed).not.toBe(JSON.parse(before.doc).status_changed)
    })
  }

  test('a claim after a reset replaces the id of the claim before: again no growth but the status', async () => {
    await drain()
    const taskId = await f.task(await f.dataset())
    const first = await claim()
    expect((await answer(taskId, 'reset', first.body.instance_id)).status).toBe(200)
    const queued = stored(taskId)
    expect(JSON.parse(queued.doc)).toMatchObject({ status: 'queued', instance_id: first.body.instance_id })
    const second = await claim()
    expect(second.body.task_id).toBe(taskId)
    expect(second.body.instance_id).toMatch(ID)
    expect(second.body.instance_id).not.toBe(first.body.instance_id)
    expect(stored(taskId).length - queued.length).toBe(STATUS_GROWTH)
  })
})

describe('the id a task was born with is never a claim', () => {
  test('complete or reset naming it on the processing task is 409 and changes nothing; the claim’s own completes it', async () => {
    await drain()
    const d = await f.dataset()
    const taskId = await f.task(d)
    const born = (await f.get(taskId)).instance_id as string
    const claimed = await claim()
    expect(claimed.body.task_id).toBe(taskId)
    const before = stored(taskId)
    const entries = await historyOf(t, d, 'tasks', taskId)
    for (const action of ['complete', 'reset']) {
      const r = await answer(taskId, action, born)
      expect({ action, status: r.status, body: r.body }).toEqual({ action, status: 409, body: { code: 409, error: expect.stringContaining(born) } })
    }
    expect(stored(taskId)).toEqual(before)
    expect(await historyOf(t, d, 'tasks', taskId)).toEqual(entries)
    const done = await answer(taskId, 'complete', claimed.body.instance_id)
    expect(done.status).toBe(200)
    expect(done.body).toMatchObject({ status: 'complete', instance_id: claimed.body.instance_id })
  })

  test('naming it before any claim (the task queued) is 409 and changes nothing, as for any task not processing', async () => {
    await drain()
    const d = await f.dataset()
    const taskId = await f.task(d)
    const before = stored(taskId)
    const born = JSON.parse(before.doc).instance_id as string
    for (const action of ['complete', 'reset']) expect((await answer(taskId, action, born)).status).toBe(409)
    expect(stored(taskId)).toEqual(before)
    expect(await historyOf(t, d, 'tasks', taskId)).toEqual([])
  })
})
