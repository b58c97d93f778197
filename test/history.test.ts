/**
 * Status history (API.md §7.1): every status change of a dataset, job or task
 * made by a request appends `{time, from, to, by, reason?}`; the entries form
 * a chain ending at the current status; setting the status a resource already
 * has, and creating it, write nothing. `num` keeps the newest n.
 * With the scheduler off (ICEPROD_SCHEDULER=off), as a site whose IceProd
 * scheduled tasks drive the server has it; the scheduler's own behaviour is
 * tested in test/scheduler-*.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SERVER } from '../src/modules/history/service'
import { QueueFixture } from './queue-support'
import { expectChain, historyOf, steps } from './history-support'
import { datasetFixture, TIMESTAMP, startTestApp, type TestApp } from './support'

let t: TestApp
let fixture: QueueFixture
const tokens: Record<string, string> = {}
let datasetId: string
let otherDatasetId: string

beforeAll(async () => {
  t = await startTestApp({ scheduler: false })
  fixture = new QueueFixture(t)
  ;({ datasetId, otherDatasetId } = await datasetFixture(t, tokens))
})
afterAll(() => t.close())

const admin = { username: 'admin', role: 'admin' }

async function newTask(dataset = datasetId): Promise<{ jobId: string; taskId: string }> {
  const jobId = await fixture.job(dataset)
  const taskId = await fixture.task(dataset, {}, jobId)
  return { jobId, taskId }
}

describe('task history', () => {
  test('a new task has none; each request that changes the status appends one entry, by its token', async () => {
    const { taskId } = await newTask()
    expect(await historyOf(t, datasetId, 'tasks', taskId)).toEqual([])

    expect((await t.call('PUT', `/tasks/${taskId}/status`, { body: { status: 'idle' } })).status).toBe(200)
    expect((await t.call('PUT', `/datasets/${datasetId}/tasks/${taskId}/status`, { body: { status: 'waiting' }, token: tokens.writer })).status).toBe(200)
    expect((await t.call('PATCH', `/tasks/${taskId}`, { body: { status: 'suspended', note: 1 }, token: tokens.client })).status).toBe(200)
    const entries = await historyOf(t, datasetId, 'tasks', taskId)
    expect(steps(entries)).toEqual(['waiting>idle', 'idle>waiting', 'waiting>suspended'])
    expect(entries.map((e) => e.by)).toEqual([admin, { username: 'user', role: 'user' }, { username: 'client', role: 'client' }])
    for (const entry of entries) {
      expect(entry.time).toMatch(TIMESTAMP)
      expect('reason' in entry).toBe(false)
    }
    expectChain(entries, 'suspended')
  })

  test('setting the status the task already has writes nothing', async () => {
    const { taskId } = await newTask()
    await t.call('PUT', `/tasks/${taskId}/status`, { body: { status: 'waiting' } })
    await t.call('PATCH', `/tasks/${taskId}`, { body: { status: 'waiting' } })
    await t.call('PATCH', `/tasks/${taskId}`, { body: { walltime: 1.5 } })
    expect(await historyOf(t, datasetId, 'tasks', taskId)).toEqual([])
  })

  test('the lifecycle actions: reset keeps its reason; the chain ends at the current status', async () => {
    const { taskId } = await newTask()
    await t.call('PUT', `/tasks/${taskId}/status`, { body: { status: 'queued' } })
    const pilot = await t.token('pilot', { username: 'pilot-7' })
    const claimed = await t.call('POST', '/task_actions/process', { body: {}, token: pilot })
    expect(claimed.body.task_id).toBe(taskId)
    const reset = await t.call('POST', `/tasks/${taskId}/task_actions/reset`, { body: { reason: 'out of memory', time_used: 60 }, token: pilot })
    expect(reset.status).toBe(200)
    await t.call('PUT', `/tasks/${taskId}/status`, { body: { status: 'queued' } })
    await t.call('POST', '/task_actions/process', { body: {}, token: pilot })
    expect((await t.call('POST', `/tasks/${taskId}/task_actions/complete`, { body: {}, token: pilot })).status).toBe(200)

    const entries = await historyOf(t, datasetId, 'tasks', taskId)
    expect(steps(entries)).toEqual(['waiting>queued', 'queued>processing', 'processing>reset', 'reset>queued', 'queued>processing', 'processing>complete'])
    expect(entries[2]).toMatchObject({ by: { username: 'pilot-7', role: 'pilot' }, reason: 'out of memory' })
    expect(entries[1]!.by).toEqual({ username: 'pilot-7', role: 'pilot' })
    expectChain(entries, 'complete')
    expect((await fixture.get(taskId)).status).toBe('complete')
  })

  test('the queue action writes one entry per task it queues', async () => {
    const group = await fixture.dataset()
    const [a, b] = await fixture.tasks(group, 2)
    await t.call('PUT', `/tasks/${b}/status`, { body: { status: 'idle' } })
    await t.call('PUT', `/tasks/${b}/status`, { body: { status: 'waiting' } })
    expect(await fixture.queue()).toBeGreaterThanOrEqual(2)
    expect(steps(await historyOf(t, group, 'tasks', a!))).toEqual(['waiting>queued'])
    expect(steps(await historyOf(t, group, 'tasks', b!))).toEqual(['waiting>idle', 'idle>waiting', 'waiting>queued'])
  })

  test('a refused change writes nothing', async () => {
    const { taskId } = await newTask()
    expect((await t.call('PUT', `/tasks/${taskId}/status`, { body: { status: 'bogus' } })).status).toBe(400)
    expect((await t.call('PATCH', `/tasks/${taskId}`, { body: { status: 'queued', job_id: 'other' } })).status).toBe(400)
    expect((await t.call('POST', `/tasks/${taskId}/task_actions/complete`, { body: {} })).status).toBe(404)
    expect(await historyOf(t, datasetId, 'tasks', taskId)).toEqual([])
  })
})

describe('job and dataset history', () => {
  test('job status PUT and PATCH', async () => {
    const { jobId } = await newTask()
    await t.call('PUT', `/datasets/${datasetId}/jobs/${jobId}/status`, { body: { status: 'suspended' } })
    await t.call('PUT', `/datasets/${datasetId}/jobs/${jobId}/status`, { body: { status: 'suspended' } })
    await t.call('PATCH', `/jobs/${jobId}`, { body: { status: 'processing' }, token: tokens.system })
    const entries = await historyOf(t, datasetId, 'jobs', jobId)
    expect(steps(entries)).toEqual(['processing>suspended', 'suspended>processing'])
    expect(entries[1]!.by).toEqual({ username: 'system', role: 'system' })
    expectChain(entries, 'processing')
  })

  test('dataset status PUT', async () => {
    const d = await fixture.dataset()
    expect(await historyOf(t, d)).toEqual([])
    await t.call('PUT', `/datasets/${d}/status`, { body: { status: 'suspended' } })
    await t.call('PUT', `/datasets/${d}/status`, { body: { status: 'processing' } })
    await t.call('PUT', `/datasets/${d}/status`, { body: { status: 'processing' } })
    const entries = await historyOf(t, d)
    expect(steps(entries)).toEqual(['processing>suspended', 'suspended>processing'])
    expectChain(entries, 'processing')
  })
})

describe('GET .../history', () => {
  let taskId: string
  let jobId: string
  beforeAll(async () => {
    ;({ taskId, jobId } = await newTask())
    for (const status of ['idle', 'waiting', 'idle', 'waiting', 'queued']) await t.call('PUT', `/tasks/${taskId}/status`, { body: { status } })
  })

  test('num keeps the newest n, still oldest first', async () => {
    const all = await historyOf(t, datasetId, 'tasks', taskId)
    expect(all.length).toBe(5)
    const newest = await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/history?num=2`)
    expect(newest.body.history).toEqual(all.slice(3))
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/history?num=1`)).body.history).toEqual(all.slice(4))
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/history?num=50`)).body.history).toEqual(all)
  })

  test('num must be a positive integer, given once', async () => {
    for (const num of ['0', '-1', '1.5', 'abc', '', '1e2']) {
      const r = await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/history?num=${num}`)
      expect({ num, status: r.status, code: r.body.code }).toEqual({ num, status: 400, code: 400 })
      expect(r.body.error).toContain('num')
    }
    expect((await t.call('GET', `/datasets/${datasetId}/history?num=1&num=2`)).status).toBe(400)
  })

  test('a job or task of another dataset, or none, is 404', async () => {
    const other = await newTask(otherDatasetId)
    for (const path of [
      `/datasets/${datasetId}/tasks/${other.taskId}/history`,
      `/datasets/${datasetId}/jobs/${other.jobId}/history`,
      `/datasets/${datasetId}/tasks/nosuchtask/history`,
      `/datasets/${datasetId}/jobs/nosuchjob/history`,
      `/datasets/nosuchdataset/history`,
    ]) {
      const r = await t.call('GET', path)
      expect({ path, status: r.status }).toEqual({ path, status: 404 })
    }
    expect((await t.call('GET', `/datasets/${otherDatasetId}/tasks/${other.taskId}/history`)).status).toBe(200)
  })

  test('who may read: admin, system, client, and dataset readers', async () => {
    const paths = [`/datasets/${datasetId}/history`, `/datasets/${datasetId}/jobs/${jobId}/history`, `/datasets/${datasetId}/tasks/${taskId}/history`]
    for (const path of paths) {
      for (const who of ['admin', 'system', 'client', 'reader', 'writer', 'parent']) {
        expect({ path, who, status: (await t.call('GET', path, { token: tokens[who] })).status }).toEqual({ path, who, status: 200 })
      }
      for (const who of ['pilot', 'user', 'anonymous', 'other']) {
        expect({ path, who, status: (await t.call('GET', path, { token: tokens[who] })).status }).toEqual({ path, who, status: 403 })
      }
      expect((await t.call('GET', path, { token: null })).status).toBe(401)
    }
  })
})

describe('storage', () => {
  test('entries take under 100 bytes each on disk, on average over many', () => {
    const sqlite = t.ctx.sqlite
    const before = sqlite.query<{ n: number }, []>('SELECT count(*) AS n FROM status_history').get()!.n
    const entries = 30_000
    const pilot = { username: 'pilot-0123456789abcdef', role: 'pilot' }
    sqlite.transaction(() => {
      // Tasks' lives interleave as they do on a busy server: many subjects, entries in arrival order.
      for (let i = 0; i < entries; i++) {
        const subject = 1_000_000 + (i % 5_000)
        const step = Math.floor(i / 5_000) % 3
        if (step === 0) t.ctx.history.record({ kind: 'task', subject, from: 'waiting', to: 'queued', by: SERVER, reason: 'dependencies complete' })
        else if (step === 1) t.ctx.history.record({ kind: 'task', subject, from: 'queued', to: 'processing', by: pilot })
        else t.ctx.history.record({ kind: 'task', subject, from: 'processing', to: 'reset', by: pilot, reason: 'exit code 1' })
      }
    })()
    const n = sqlite.query<{ n: number }, []>('SELECT count(*) AS n FROM status_history').get()!.n - before
    expect(n).toBe(entries)
    const bytes = sqlite.query<{ bytes: number }, []>("SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN ('status_history', 'status_history_subject')").get()!.bytes
    const perEntry = bytes / (n + before)
    console.log(`status history: ${n + before} entries, ${bytes} bytes in table and index, ${perEntry.toFixed(1)} bytes per entry`)
    expect(perEntry).toBeLessThan(100)
  })
})
