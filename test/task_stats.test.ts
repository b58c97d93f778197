import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { datasetFixture, expectCreated, startTestApp, TIMESTAMP, type TestApp } from './support'

let t: TestApp
const tokens: Record<string, string> = {}
let datasetId: string
let otherDatasetId: string
let taskId: string
let otherTaskId: string
beforeAll(async () => {
  t = await startTestApp()
  ;({ datasetId, otherDatasetId } = await datasetFixture(t, tokens))
  taskId = await createTask(datasetId)
  otherTaskId = await createTask(otherDatasetId)
})
afterAll(() => t.close())



let jobIndex = 0
async function createTask(dataset: string): Promise<string> {
  const job = (await t.call('POST', '/jobs', { body: { dataset_id: dataset, job_index: jobIndex++ } })).body.result
  const r = await t.call('POST', '/tasks', { body: { dataset_id: dataset, job_id: job, task_index: 0, name: 'n', depends: [], requirements: {} } })
  return r.body.result
}

async function postStat(stats: Record<string, unknown>, task = taskId, token = tokens.pilot): Promise<string> {
  const r = await t.call('POST', `/tasks/${task}/task_stats`, { token, body: stats })
  expect(r.status).toBe(201)
  return r.body.result
}

describe('POST /tasks/<task_id>/task_stats', () => {
  test('stores {task_stat_id, task_id, dataset_id, create_date, stats: <body>}; 201 with id and Location', async () => {
    const body = { dataset_id: datasetId, resources: { cpu: 1.5, memory: 2 }, hosts: ['a', 'b'], error: null, ok: true }
    const r = await t.call('POST', `/tasks/${taskId}/task_stats`, { token: tokens.pilot, body })
    const statId = expectCreated(r, `/datasets/${datasetId}/tasks/${taskId}/task_stats`)
    const got = await t.call('GET', r.headers.get('location')!)
    expect(got.status).toBe(200)
    expect(got.body).toEqual({ task_stat_id: statId, task_id: taskId, dataset_id: datasetId, create_date: expect.stringMatching(TIMESTAMP), stats: body })
    expect(got.text).toContain('"resources":{"cpu":1.5,"memory":2}')
  })

  test('admin, client and pilot only', async () => {
    for (const role of ['admin', 'client', 'pilot']) await postStat({ dataset_id: datasetId, by: role }, taskId, tokens[role])
    const before = t.count('task_stats')
    for (const name of ['system', 'user', 'anonymous', 'writer']) {
      expect((await t.call('POST', `/tasks/${taskId}/task_stats`, { token: tokens[name], body: { dataset_id: datasetId } })).status).toBe(403)
    }
    expect((await t.call('POST', `/tasks/${taskId}/task_stats`, { token: null, body: { dataset_id: datasetId } })).status).toBe(401)
    expect(t.count('task_stats')).toBe(before)
  })

  test('dataset_id is required, must be a string and be the task dataset; the task must exist', async () => {
    const before = t.count('task_stats')
    const missing = await t.call('POST', `/tasks/${taskId}/task_stats`, { body: { cpu: 1 } })
    expect(missing.body).toEqual({ code: 400, error: 'missing key: dataset_id' })
    expect((await t.call('POST', `/tasks/${taskId}/task_stats`, { body: { dataset_id: 3 } })).body).toEqual({ code: 400, error: 'key dataset_id must be a string' })
    const mismatch = await t.call('POST', `/tasks/${taskId}/task_stats`, { body: { dataset_id: otherDatasetId } })
    expect(mismatch.body).toEqual({ code: 400, error: `key dataset_id must be the dataset of task ${taskId}` })
    expect((await t.call('POST', '/tasks/nosuchtask/task_stats', { body: { dataset_id: datasetId } })).status).toBe(404)
    expect((await t.call('POST', `/tasks/${taskId}/task_stats`, { body: '[]' })).status).toBe(400)
    expect(t.count('task_stats')).toBe(before)
  })
})

describe('GET /datasets/<d>/tasks/<t>/task_stats', () => {
  test('the task stats keyed by id, in creation order; last and keys', async () => {
    const task = await createTask(datasetId)
    const empty = await t.call('GET', `/datasets/${datasetId}/tasks/${task}/task_stats`)
    expect(empty.status).toBe(200)
    expect(empty.body).toEqual({})
    const ids = [await postStat({ dataset_id: datasetId, n: 1 }, task), await postStat({ dataset_id: datasetId, n: 2 }, task), await postStat({ dataset_id: datasetId, n: 3 }, task)]
    await postStat({ dataset_id: datasetId, n: 99 })
    const r = await t.call('GET', `/datasets/${datasetId}/tasks/${task}/task_stats`)
    expect(Object.keys(r.body)).toEqual(ids)
    expect(r.body[ids[1]!].stats).toEqual({ dataset_id: datasetId, n: 2 })
    const last = await t.call('GET', `/datasets/${datasetId}/tasks/${task}/task_stats?last=true`)
    expect(Object.keys(last.body)).toEqual([ids[2]])
    expect(Object.keys((await t.call('GET', `/datasets/${datasetId}/tasks/${task}/task_stats?last=false`)).body)).toEqual(ids)
    const keyed = await t.call('GET', `/datasets/${datasetId}/tasks/${task}/task_stats?keys=create_date`)
    expect(keyed.body[ids[0]!]).toEqual({ task_stat_id: ids[0], create_date: expect.stringMatching(TIMESTAMP) })
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${task}/task_stats?last=maybe`)).body).toEqual({ code: 400, error: 'query parameter last must be true or false' })
  })

  test('a task that is not in the dataset is 404', async () => {
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${otherTaskId}/task_stats`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/nosuch/task_stats`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/nosuch/tasks/${taskId}/task_stats`)).status).toBe(404)
  })

  test('admin and dataset readers only', async () => {
    for (const name of ['admin', 'reader', 'writer', 'parent']) expect((await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/task_stats`, { token: tokens[name] })).status).toBe(200)
    for (const name of ['system', 'client', 'pilot', 'user', 'other']) {
      expect((await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/task_stats`, { token: tokens[name] })).status).toBe(403)
    }
  })
})

describe('GET /datasets/<d>/tasks/<t>/task_stats/<id>', () => {
  test('the task stat; 404 unless it belongs to that task of that dataset', async () => {
    const statId = await postStat({ dataset_id: datasetId, x: 1 })
    const otherStat = await postStat({ dataset_id: otherDatasetId }, otherTaskId)
    const task = await createTask(datasetId)
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/task_stats/${statId}`, { token: tokens.reader })).body.stats).toEqual({ dataset_id: datasetId, x: 1 })
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${task}/task_stats/${statId}`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${otherTaskId}/task_stats/${otherStat}`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/task_stats/nosuch`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/task_stats/${statId}`, { token: tokens.other })).status).toBe(403)
    expect((await t.call('GET', `/datasets/${datasetId}/tasks/${taskId}/task_stats/${statId}`, { token: tokens.client })).status).toBe(403)
  })
})
