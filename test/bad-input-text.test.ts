/**
 * Odd but valid text (NUL, direction marks, zero-width and combining
 * characters, emoji, JSON escapes, long strings) in the keys and values of
 * valid bodies: never a fault, and stored and returned exactly, including in
 * the answers built from indexed fields (task names in the name/status counts,
 * log names in a task's grouped logs). Text that UTF-8 cannot carry is
 * refused whole (see bad-input.test.ts).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import fc from 'fast-check'
import { DATASET_GROUP, ODD_PIECES, startFixture, type Fixture } from './bad-input-support'

// These tests start real servers and run many cases: more than the 5 s default.
setDefaultTimeout(60_000)

let f: Fixture
beforeAll(async () => {
  f = await startFixture()
})
afterAll(() => f.t.close())

/** Well-formed odd text, sometimes long. */
const text = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.oneof(fc.constantFrom(...ODD_PIECES), fc.string({ maxLength: 4, unit: 'grapheme' })), { minLength: 1, maxLength: 10 }).map((parts) => parts.join('')) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD_PIECES).map((piece) => piece.repeat(500)) },
).filter((value) => value.isWellFormed() && value.length > 0)

async function created(method: string, path: string, body: unknown): Promise<string> {
  const r = await f.t.call(method, path, { body })
  expect({ path, status: r.status }).toEqual({ path, status: 201 })
  return String(r.body.result).split('/').pop()!
}

describe('odd but valid text', () => {
  test('in extra keys and values of jobs, grids, pilots and datasets: stored and returned exactly', async () => {
    const { ids } = f
    let index = 5000
    await fc.assert(
      fc.asyncProperty(text, text, async (key, value) => {
        fc.pre(!['dataset_id', 'job_index', 'job_id', 'status', 'status_changed', 'host', 'queues', 'version', 'grid_id', 'username', 'debug'].includes(key))
        const jobId = await created('POST', '/jobs', { dataset_id: ids.dataset_id, job_index: index++, [key]: value })
        expect((await f.t.call('GET', `/jobs/${jobId}`)).body[key]).toBe(value)
        const gridId = await created('POST', '/grids', { host: value, queues: { [key]: value }, version: '1' })
        const grid = (await f.t.call('GET', `/grids/${gridId}`)).body
        expect([grid.host, grid.queues]).toEqual([value, { [key]: value }])
        const pilotId = await created('POST', '/pilots', { queue_host: value, queue_version: key, resources: { [key]: 1 } })
        const pilot = (await f.t.call('GET', `/pilots/${pilotId}`)).body
        expect([pilot.queue_host, pilot.queue_version, pilot.resources]).toEqual([value, key, { [key]: 1 }])
        const datasetId = await created('POST', '/datasets', { description: value, jobs_submitted: 1, tasks_submitted: 1, group: DATASET_GROUP })
        expect((await f.t.call('GET', `/datasets/${datasetId}`)).body.description).toBe(value)
        expect((await f.t.call('PUT', `/config/${datasetId}`, { body: { [key]: { [value]: [value] } } })).status).toBe(200)
        expect((await f.t.call('GET', `/config/${datasetId}`)).body[key]).toEqual({ [value]: [value] })
      }),
      { numRuns: 40 },
    )
  })

  test('as task names: stored exactly, and the name/status counts name them exactly', async () => {
    const datasetId = await created('POST', '/datasets', { description: 'names', jobs_submitted: 1, tasks_submitted: 100, group: DATASET_GROUP })
    const jobId = await created('POST', '/jobs', { dataset_id: datasetId, job_index: 0 })
    const names = new Set<string>()
    let index = 0
    await fc.assert(
      fc.asyncProperty(text, async (name) => {
        const taskId = await created('POST', '/tasks', { dataset_id: datasetId, job_id: jobId, task_index: index++, name, depends: [], requirements: {} })
        names.add(name)
        expect((await f.t.call('GET', `/tasks/${taskId}`)).body.name).toBe(name)
        const counts = (await f.t.call('GET', `/datasets/${datasetId}/task_counts/name_status`)).body
        expect(new Set(Object.keys(counts))).toEqual(names)
      }),
      { numRuns: 40 },
    )
  })

  test('as log names and texts: stored exactly, and a task\'s grouped logs keep one per name exactly', async () => {
    const { ids } = f
    const taskId = ids.task_id!
    const names = new Set<string>()
    for (const log of (await f.t.call('GET', `/datasets/${ids.dataset_id}/tasks/${taskId}/logs`)).body.logs) names.add(log.name)
    await fc.assert(
      fc.asyncProperty(text, text, async (name, data) => {
        const logId = await created('POST', `/datasets/${ids.dataset_id}/logs`, { name, data, task_id: taskId })
        names.add(name)
        const log = (await f.t.call('GET', `/logs/${logId}`)).body
        expect([log.name, log.data]).toEqual([name, data])
        const grouped = (await f.t.call('GET', `/datasets/${ids.dataset_id}/tasks/${taskId}/logs?group=true&keys=name`)).body.logs as { name: string }[]
        expect(new Set(grouped.map((entry) => entry.name))).toEqual(names)
        expect(grouped.length).toBe(names.size)
      }),
      { numRuns: 40 },
    )
  })

  test('task names holding line breaks: named exactly in the name/status counts and the task stats (they failed their response schema)', async () => {
    const datasetId = await created('POST', '/datasets', { description: 'breaks', jobs_submitted: 1, tasks_submitted: 4, group: DATASET_GROUP })
    const jobId = await created('POST', '/jobs', { dataset_id: datasetId, job_index: 0 })
    const names = ['a\nb', '\n', '\r\n', 'x\u2028y']
    for (const [index, name] of names.entries()) {
      const taskId = await created('POST', '/tasks', { dataset_id: datasetId, job_id: jobId, task_index: index, name, depends: [], requirements: {} })
      expect((await f.t.call('PUT', `/tasks/${taskId}/status`, { body: { status: 'complete' } })).status).toBe(200)
    }
    const counts = await f.t.call('GET', `/datasets/${datasetId}/task_counts/name_status`)
    expect([counts.status, Object.keys(counts.body)]).toEqual([200, names])
    const stats = await f.t.call('GET', `/datasets/${datasetId}/task_stats`)
    expect([stats.status, Object.keys(stats.body)]).toEqual([200, names])
  })

  test('a log text that starts with U+FEFF keeps it, stored plain or compressed', async () => {
    for (const data of ['\ufeffshort', '\ufeff' + 'long line\n'.repeat(1000), '\ufeff\ufeff']) {
      const logId = await created('POST', '/logs', { data })
      expect((await f.t.call('GET', `/logs/${logId}`)).body.data).toBe(data)
    }
  })
})
