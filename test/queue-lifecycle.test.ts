/**
 * The full life of tasks through the API: created waiting, queued, processed,
 * reset once, set waiting again (IceProd's reset_tasks does this), queued and
 * processed again, completed; followed through the dataset's status counts
 * and task stats.
 * With the scheduler off (ICEPROD_SCHEDULER=off), as a site whose IceProd
 * scheduled tasks drive the server has it; the scheduler's own behaviour is
 * tested in test/scheduler-*.test.ts.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { MAX_TIME_USED } from '../src/modules/queue/model'
import { QueueFixture } from './queue-support'
import { startTestApp, type TestApp } from './support'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp({ scheduler: false })
})
afterAll(() => t.close())

test('a task from creation to complete, with one failure on the way', async () => {
  const f = new QueueFixture(t)
  const client = await t.token('client')
  const pilot = await t.token('pilot')
  const d = await f.dataset(1)
  const job = await f.job(d)
  const generate = await f.task(d, { name: 'generate', requirements: { cpu: 1, memory: 2 } }, job)
  const filter = await f.task(d, { name: 'filter', depends: [generate], requirements: { cpu: 1, gpu: 1 } }, job)
  const counts = async () => {
    const r = await t.call('GET', `/datasets/${d}/task_counts/status`, { token: client })
    expect(r.status).toBe(200)
    return r.body
  }
  const act = async (taskId: string, action: 'reset' | 'complete', time_used: number) => {
    const r = await t.call('POST', `/tasks/${taskId}/task_actions/${action}`, { token: pilot, body: { time_used } })
    expect(r.status).toBe(200)
    return r.body
  }
  const queue = async () => (await t.call('POST', '/task_actions/queue', { token: client, body: {} })).body.queued
  const process = async (requirements: Record<string, unknown>) => {
    const r = await t.call('POST', '/task_actions/process', { token: pilot, body: { requirements } })
    return r.status === 200 ? r.body : undefined
  }
  const cpuPilot = { cpu: 4, memory: 8 }
  const gpuPilot = { cpu: 4, memory: 8, gpu: 1 }

  expect(await counts()).toEqual({ waiting: 2 })
  expect(await queue()).toBe(1)
  expect(await counts()).toEqual({ waiting: 1, queued: 1 })

  // First attempt fails after half an hour.
  expect((await process(cpuPilot))?.task_id).toBe(generate)
  expect(await counts()).toEqual({ waiting: 1, processing: 1 })
  expect(await act(generate, 'reset', 1800)).toMatchObject({ status: 'reset', failures: 1, walltime_err: 0.5, walltime_err_n: 1 })
  expect(await counts()).toEqual({ waiting: 1, reset: 1 })
  expect(await process(cpuPilot)).toBeUndefined()
  // The queue action leaves a reset task alone: what becomes of it is reset_tasks' call.
  expect(await queue()).toBe(0)
  expect(await counts()).toEqual({ waiting: 1, reset: 1 })
  const system = await t.token('system')
  expect((await t.call('PUT', `/datasets/${d}/tasks/${generate}/status`, { token: system, body: { status: 'waiting' } })).status).toBe(200)

  // Queued again, it runs to the end in two hours.
  expect(await queue()).toBe(1)
  expect(await counts()).toEqual({ waiting: 1, queued: 1 })
  expect((await process(cpuPilot))?.task_id).toBe(generate)
  expect(await act(generate, 'complete', 7200)).toMatchObject({ status: 'complete', failures: 1, walltime: 2, walltime_err: 0.5 })
  expect(await counts()).toEqual({ waiting: 1, complete: 1 })

  // Its dependent now queues, and only a GPU pilot takes it.
  expect(await queue()).toBe(1)
  expect(await process(cpuPilot)).toBeUndefined()
  expect((await process(gpuPilot))?.task_id).toBe(filter)
  expect(await act(filter, 'complete', 900)).toMatchObject({ status: 'complete', failures: 0, walltime: 0.25 })
  expect(await counts()).toEqual({ complete: 2 })
  expect(t.count('task_queue')).toBe(0)

  const stats = await t.call('GET', `/datasets/${d}/task_stats`, { token: client })
  expect(stats.status).toBe(200)
  expect(stats.body).toEqual({
    generate: { count: 1, gpu: 0, total_hrs: 2, total_err_hrs: 0.5, avg_hrs: 2, stddev_hrs: null, min_hrs: 2, max_hrs: 2, efficiency: 0.8 },
    filter: { count: 1, gpu: 1, total_hrs: 0.25, total_err_hrs: 0, avg_hrs: 0.25, stddev_hrs: null, min_hrs: 0.25, max_hrs: 0.25, efficiency: 1 },
  })

  // Completed tasks cannot be reset or completed again.
  expect((await t.call('POST', `/tasks/${generate}/task_actions/reset`, { token: pilot, body: {} })).status).toBe(404)
  expect((await t.call('POST', `/tasks/${generate}/task_actions/complete`, { token: pilot, body: {} })).status).toBe(404)
})

test('many tasks through many rounds: counts stay exact and every task completes once', async () => {
  const f = new QueueFixture(t)
  const d = await f.dataset()
  const ids = await f.tasks(d, 40)
  const completions = new Map<string, number>()
  let round = 0
  while (completions.size < ids.length && round++ < 20) {
    await f.queue({ num_tasks: 15 })
    for (let taskId = await f.process(); taskId !== undefined; taskId = await f.process()) {
      // Every third claim fails once, the rest complete.
      const failFirst = ids.indexOf(taskId) % 3 === 0 && (await f.get(taskId)).failures === 0
      const action = failFirst ? 'reset' : 'complete'
      expect((await t.call('POST', `/tasks/${taskId}/task_actions/${action}`, { body: { time_used: 60 } })).status).toBe(200)
      if (!failFirst) completions.set(taskId, (completions.get(taskId) ?? 0) + 1)
    }
    // As IceProd's reset_tasks does between rounds: failed tasks wait again.
    const reset = (await t.call('GET', `/datasets/${d}/tasks?status=reset&keys=task_id`)).body
    for (const taskId of Object.keys(reset)) {
      expect((await t.call('PUT', `/datasets/${d}/tasks/${taskId}/status`, { body: { status: 'waiting' } })).status).toBe(200)
    }
  }
  expect([...completions.values()].every((n) => n === 1)).toBe(true)
  expect(completions.size).toBe(40)
  expect((await t.call('GET', `/datasets/${d}/task_counts/status`)).body).toEqual({ complete: 40 })
  const stats = (await t.call('GET', `/datasets/${d}/task_stats`)).body.main
  expect(stats.count).toBe(40)
  expect(stats.total_err_hrs).toBeCloseTo((14 * 60) / 3600, 10)
})

test('time_used past its limit is 400 and changes nothing; stats too large to sum are null, never a 500', async () => {
  const f = new QueueFixture(t)
  const pilot = await t.token('pilot')
  const d = await f.dataset(1)
  const [first, second] = await f.tasks(d, 2, { name: 'big', requirements: { cpu: 1 } })
  expect((await t.call('POST', '/task_actions/queue', { body: { num_tasks: 10 } })).status).toBe(200)
  for (const taskId of [first!, second!]) {
    expect((await t.call('POST', '/task_actions/process', { token: pilot, body: { requirements: { cpu: 1, memory: 8, disk: 100, time: 100 } } })).status).toBe(200)
    for (const action of ['complete', 'reset']) {
      const r = await t.call('POST', `/tasks/${taskId}/task_actions/${action}`, { token: pilot, body: { time_used: MAX_TIME_USED + 1 } })
      expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: { code: 400, error: expect.stringContaining('key time_used') } })
    }
    expect(await f.get(taskId)).toMatchObject({ status: 'processing', walltime: 0, walltime_err: 0, failures: 0 })
  }
  // At the limit, two completions: the stats hold.
  for (const taskId of [first!, second!]) expect((await t.call('POST', `/tasks/${taskId}/task_actions/complete`, { token: pilot, body: { time_used: MAX_TIME_USED } })).status).toBe(200)
  const hours = MAX_TIME_USED / 3600
  const stats = await t.call('GET', `/datasets/${d}/task_stats`)
  expect({ status: stats.status, body: stats.body }).toEqual({
    status: 200,
    body: { big: { count: 2, gpu: 0, total_hrs: 2 * hours, total_err_hrs: 0, avg_hrs: hours, stddev_hrs: 0, min_hrs: hours, max_hrs: hours, efficiency: 1 } },
  })
  // A client may still PATCH in any walltime: sums past the largest number are null.
  for (const taskId of [first!, second!]) expect((await t.call('PATCH', `/tasks/${taskId}`, { body: { walltime: 1e308 } })).status).toBe(200)
  const overflowed = await t.call('GET', `/datasets/${d}/task_stats`)
  expect({ status: overflowed.status, body: overflowed.body }).toEqual({
    status: 200,
    body: { big: { count: 2, gpu: 0, total_hrs: null, total_err_hrs: 0, avg_hrs: null, stddev_hrs: null, min_hrs: 1e308, max_hrs: 1e308, efficiency: null } },
  })
})
