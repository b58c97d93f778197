import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { newId } from '../src/db/documents'
import { datasetFixture, expectCreated, startTestApp, TIMESTAMP, type TestApp } from './support'

let t: TestApp
const tokens: Record<string, string> = {}
let datasetId: string
let otherDatasetId: string
let createDataset: (group: string) => Promise<string>
beforeAll(async () => {
  t = await startTestApp()
  ;({ datasetId, otherDatasetId, createDataset } = await datasetFixture(t, tokens))
})
afterAll(() => t.close())



let nextIndex = 1000
async function createJob(body: Record<string, unknown> = {}, dataset = datasetId, token = tokens.admin): Promise<string> {
  const r = await t.call('POST', '/jobs', { token, body: { dataset_id: dataset, job_index: nextIndex++, ...body } })
  expect(r.status).toBe(201)
  return r.body.result
}

describe('POST /jobs', () => {
  test('creates a job with status processing and status_changed; 201 with the id and Location', async () => {
    const r = await t.call('POST', '/jobs', { token: tokens.client, body: { dataset_id: datasetId, job_index: 0, extra: { a: [1, 2.5, null, true] }, note: null } })
    const jobId = expectCreated(r, '/jobs')
    const job = await t.call('GET', `/jobs/${jobId}`)
    expect(job.body).toEqual({
      dataset_id: datasetId,
      job_index: 0,
      extra: { a: [1, 2.5, null, true] },
      note: null,
      job_id: jobId,
      status: 'processing',
      status_changed: expect.stringMatching(TIMESTAMP),
    })
    expect(job.text).toContain('"extra":{"a":[1,2.5,null,true]}')
  })

  test('server fields win over the body', async () => {
    const jobId = await createJob({ job_id: 'mine', status: 'complete', status_changed: 'yesterday' })
    const job = (await t.call('GET', `/jobs/${jobId}`)).body
    expect(job.job_id).toBe(jobId)
    expect(job.status).toBe('processing')
    expect(job.status_changed).toMatch(TIMESTAMP)
  })

  test.each([
    [{ job_index: 5 }, 'missing key: dataset_id'],
    [{ dataset_id: 'x' }, 'missing key: job_index'],
    [{ dataset_id: 5, job_index: 5 }, 'key dataset_id must be a string'],
    [{ dataset_id: 'd', job_index: '5' }, 'key job_index must be an integer'],
    [{ dataset_id: 'd', job_index: 1.5 }, 'key job_index must be an integer'],
    [{ dataset_id: 'nosuchdataset', job_index: 5 }, 'no such dataset: nosuchdataset'],
  ])('rejects %j with 400 and writes nothing', async (body, message) => {
    const before = [t.count('jobs'), t.count('job_counts')]
    const r = await t.call('POST', '/jobs', { body })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ code: 400, error: message })
    expect([t.count('jobs'), t.count('job_counts')]).toEqual(before)
  })

  test('a negative job_index is 400 naming the key', async () => {
    const r = await t.call('POST', '/jobs', { body: { dataset_id: datasetId, job_index: -1 } })
    expect(r.status).toBe(400)
    expect(r.body.error).toContain('job_index')
  })

  test('(dataset_id, job_index) is unique: 409, and the index is free in another dataset', async () => {
    await t.call('POST', '/jobs', { body: { dataset_id: datasetId, job_index: 7 } })
    const before = t.count('jobs')
    const r = await t.call('POST', '/jobs', { body: { dataset_id: datasetId, job_index: 7 } })
    expect(r.status).toBe(409)
    expect(r.body).toEqual({ code: 409, error: `job_index 7 already exists in dataset ${datasetId}` })
    expect(t.count('jobs')).toBe(before)
    expect((await t.call('POST', '/jobs', { body: { dataset_id: otherDatasetId, job_index: 7 } })).status).toBe(201)
  })

  test('admin, system and client only; dataset groups do not help', async () => {
    for (const role of ['admin', 'system', 'client']) await createJob({}, datasetId, tokens[role])
    const before = t.count('jobs')
    for (const name of ['pilot', 'user', 'anonymous', 'writer']) {
      expect((await t.call('POST', '/jobs', { token: tokens[name], body: { dataset_id: datasetId, job_index: 99999 } })).status).toBe(403)
    }
    expect((await t.call('POST', '/jobs', { token: null, body: { dataset_id: datasetId, job_index: 99999 } })).status).toBe(401)
    expect(t.count('jobs')).toBe(before)
  })
})

describe('GET /jobs/<job_id>', () => {
  test('admin, system, client and pilot; others 403; missing 404', async () => {
    const jobId = await createJob()
    for (const role of ['admin', 'system', 'client', 'pilot']) {
      const r = await t.call('GET', `/jobs/${jobId}`, { token: tokens[role] })
      expect(r.status).toBe(200)
      expect(r.body.job_id).toBe(jobId)
    }
    for (const name of ['user', 'anonymous', 'writer']) expect((await t.call('GET', `/jobs/${jobId}`, { token: tokens[name] })).status).toBe(403)
    const missing = await t.call('GET', '/jobs/nosuchjob')
    expect(missing.status).toBe(404)
    expect(missing.body.code).toBe(404)
  })
})

describe('PATCH /jobs/<job_id>', () => {
  test('merges top-level keys and returns the whole job', async () => {
    const jobId = await createJob({ keep: 1, replace: { a: 1 } })
    const r = await t.call('PATCH', `/jobs/${jobId}`, { token: tokens.system, body: { replace: { b: [2] }, added: null } })
    expect(r.status).toBe(200)
    const stored = (await t.call('GET', `/jobs/${jobId}`)).body
    expect(r.body).toEqual(stored)
    expect(stored).toMatchObject({ keep: 1, replace: { b: [2] }, added: null, job_id: jobId, dataset_id: datasetId, status: 'processing' })
  })

  test('a status is validated, refreshes status_changed and moves the counts', async () => {
    const dataset = await createDataset('/other')
    const r1 = await t.call('POST', '/jobs', { body: { dataset_id: dataset, job_index: 0 } })
    const jobId = r1.body.result
    t.ctx.sqlite.run(`UPDATE jobs SET doc = json_set(doc, '$.status_changed', '2000-01-01T00:00:00.000000') WHERE job_id = ?`, [jobId])
    const r = await t.call('PATCH', `/jobs/${jobId}`, { body: { status: 'failed' } })
    expect(r.body.status).toBe('failed')
    expect(r.body.status_changed).toMatch(TIMESTAMP)
    expect(r.body.status_changed).not.toBe('2000-01-01T00:00:00.000000')
    expect((await t.call('GET', `/datasets/${dataset}/job_counts/status`)).body).toEqual({ failed: 1 })
    const bad = await t.call('PATCH', `/jobs/${jobId}`, { body: { status: 'running', other: 1 } })
    expect(bad.body).toEqual({ code: 400, error: 'bad status: running' })
    expect((await t.call('GET', `/jobs/${jobId}`)).body.other).toBeUndefined()
  })

  test('cannot change job_id, dataset_id or job_index; an empty body is 400; nothing changes', async () => {
    const jobId = await createJob()
    const stored = (await t.call('GET', `/jobs/${jobId}`)).text
    for (const [key, value] of [['job_id', 'other'], ['dataset_id', otherDatasetId], ['job_index', 123456]] as const) {
      const r = await t.call('PATCH', `/jobs/${jobId}`, { body: { [key]: value, x: 1 } })
      expect(r.status).toBe(400)
      expect(r.body.error).toBe(`key ${key} cannot be changed`)
    }
    expect((await t.call('PATCH', `/jobs/${jobId}`, { body: {} })).status).toBe(400)
    expect((await t.call('PATCH', `/jobs/${jobId}`)).status).toBe(400)
    expect((await t.call('PATCH', `/jobs/${jobId}`, { body: { job_index: 'x' } })).body.error).toBe('key job_index must be an integer')
    expect((await t.call('GET', `/jobs/${jobId}`)).text).toBe(stored)
    // Repeating the stored values is allowed.
    const same = JSON.parse(stored)
    expect((await t.call('PATCH', `/jobs/${jobId}`, { body: { job_id: jobId, dataset_id: datasetId, job_index: same.job_index } })).status).toBe(200)
  })

  test('missing job 404; pilot and users refused', async () => {
    expect((await t.call('PATCH', '/jobs/nosuch', { body: { a: 1 } })).status).toBe(404)
    const jobId = await createJob()
    for (const name of ['pilot', 'user', 'writer']) expect((await t.call('PATCH', `/jobs/${jobId}`, { token: tokens[name], body: { a: 1 } })).status).toBe(403)
    expect((await t.call('GET', `/jobs/${jobId}`)).body.a).toBeUndefined()
  })
})

describe('GET /datasets/<dataset_id>/jobs', () => {
  let dataset: string
  let jobs: string[]
  beforeAll(async () => {
    dataset = await createDataset('/simprod/filtering')
    jobs = []
    for (let i = 0; i < 6; i++) jobs.push((await t.call('POST', '/jobs', { body: { dataset_id: dataset, job_index: i, payload: { i } } })).body.result)
    await t.call('PUT', `/datasets/${dataset}/jobs/${jobs[1]}/status`, { body: { status: 'complete' } })
    await t.call('PUT', `/datasets/${dataset}/jobs/${jobs[4]}/status`, { body: { status: 'failed' } })
  })

  test('every job of the dataset keyed by id, in creation order', async () => {
    const r = await t.call('GET', `/datasets/${dataset}/jobs`)
    expect(r.status).toBe(200)
    expect(Object.keys(r.body)).toEqual(jobs)
    expect(r.body[jobs[2]!]).toEqual((await t.call('GET', `/jobs/${jobs[2]}`)).body)
  })

  test('filters: status (one or several), job_index, both', async () => {
    const keys = async (query: string) => Object.keys((await t.call('GET', `/datasets/${dataset}/jobs?${query}`)).body)
    expect(await keys('status=processing')).toEqual([jobs[0], jobs[2], jobs[3], jobs[5]])
    expect(await keys('status=failed|complete')).toEqual([jobs[1], jobs[4]])
    expect(await keys('status=errors')).toEqual([])
    expect(await keys('job_index=3')).toEqual([jobs[3]])
    expect(await keys('job_index=3&status=complete')).toEqual([])
    expect(await keys('job_index=1&status=complete')).toEqual([jobs[1]])
  })

  test('bad filters are 400 naming the parameter', async () => {
    expect((await t.call('GET', `/datasets/${dataset}/jobs?status=waiting`)).body).toEqual({ code: 400, error: 'bad status: waiting' })
    for (const value of ['x', '1.5', '', '1e2']) {
      expect((await t.call('GET', `/datasets/${dataset}/jobs?job_index=${value}`)).body).toEqual({ code: 400, error: 'query parameter job_index must be an integer' })
    }
  })

  test('keys projects each job, always keeping job_id', async () => {
    const r = await t.call('GET', `/datasets/${dataset}/jobs?keys=status|payload`)
    expect(r.body[jobs[0]!]).toEqual({ job_id: jobs[0], status: 'processing', payload: { i: 0 } })
  })

  test('readers through groups; others 403; missing dataset 404 for admin', async () => {
    for (const name of ['system', 'client', 'writer', 'parent']) expect((await t.call('GET', `/datasets/${dataset}/jobs`, { token: tokens[name] })).status).toBe(200)
    for (const name of ['pilot', 'user', 'other']) expect((await t.call('GET', `/datasets/${dataset}/jobs`, { token: tokens[name] })).status).toBe(403)
    expect((await t.call('GET', '/datasets/nosuch/jobs')).status).toBe(404)
  })

  test('a listing larger than a page streams every job once, in creation order', async () => {
    const big = await createDataset('/other')
    const statuses = ['processing', 'failed', 'suspended', 'errors', 'complete']
    const ids: string[] = []
    // One statement for every row: an insert into jobs is long to prepare (the triggers that keep the counts come with it).
    const insert = t.ctx.sqlite.prepare('INSERT INTO jobs (job_id, doc) VALUES (?, ?)')
    t.ctx.sqlite.transaction(() => {
      for (let i = 0; i < 2600; i++) {
        const jobId = newId()
        ids.push(jobId)
        const doc = { job_id: jobId, dataset_id: big, job_index: i, status: statuses[(i * 7) % 5], status_changed: '2020-01-01T00:00:00.000000' }
        insert.run(jobId, JSON.stringify(doc))
      }
    })()
    insert.finalize()
    const r = await t.call('GET', `/datasets/${big}/jobs`)
    expect(r.status).toBe(200)
    expect(Object.keys(r.body)).toEqual(ids)
    const failed = await t.call('GET', `/datasets/${big}/jobs?status=failed|complete&keys=status`)
    expect(Object.keys(failed.body)).toEqual(ids.filter((_, i) => ['failed', 'complete'].includes(statuses[(i * 7) % 5]!)))
  })
})

describe('GET /datasets/<dataset_id>/jobs/<job_id>', () => {
  test('the job, 404 when it belongs to another dataset', async () => {
    const jobId = await createJob()
    const r = await t.call('GET', `/datasets/${datasetId}/jobs/${jobId}`, { token: tokens.reader })
    expect(r.status).toBe(200)
    expect(r.body).toEqual((await t.call('GET', `/jobs/${jobId}`)).body)
    expect((await t.call('GET', `/datasets/${otherDatasetId}/jobs/${jobId}`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/${datasetId}/jobs/nosuch`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/${datasetId}/jobs/${jobId}`, { token: tokens.other })).status).toBe(403)
  })
})

describe('PUT /datasets/<dataset_id>/jobs/<job_id>/status', () => {
  test('sets status and status_changed; {}', async () => {
    const jobId = await createJob()
    t.ctx.sqlite.run(`UPDATE jobs SET doc = json_set(doc, '$.status_changed', '2000-01-01T00:00:00.000000') WHERE job_id = ?`, [jobId])
    const r = await t.call('PUT', `/datasets/${datasetId}/jobs/${jobId}/status`, { token: tokens.writer, body: { status: 'suspended' } })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({})
    const job = (await t.call('GET', `/jobs/${jobId}`)).body
    expect(job.status).toBe('suspended')
    expect(job.status_changed).toMatch(TIMESTAMP)
    expect(job.status_changed).not.toBe('2000-01-01T00:00:00.000000')
  })

  test('bad status 400, wrong dataset 404, read-only 403; nothing changes', async () => {
    const jobId = await createJob()
    const stored = (await t.call('GET', `/jobs/${jobId}`)).text
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs/${jobId}/status`, { body: { status: 'queued' } })).body).toEqual({ code: 400, error: 'bad status: queued' })
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs/${jobId}/status`, { body: {} })).body).toEqual({ code: 400, error: 'missing key: status' })
    expect((await t.call('PUT', `/datasets/${otherDatasetId}/jobs/${jobId}/status`, { body: { status: 'complete' } })).status).toBe(404)
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs/nosuch/status`, { body: { status: 'complete' } })).status).toBe(404)
    for (const name of ['reader', 'pilot', 'other']) {
      expect((await t.call('PUT', `/datasets/${datasetId}/jobs/${jobId}/status`, { token: tokens[name], body: { status: 'complete' } })).status).toBe(403)
    }
    expect((await t.call('GET', `/jobs/${jobId}`)).text).toBe(stored)
  })
})

describe('job summaries and counts', () => {
  test('ids and counts by status, in status order, only statuses that occur, unknown ones last', async () => {
    const dataset = await createDataset('/other')
    const ids: string[] = []
    for (let i = 0; i < 6; i++) ids.push((await t.call('POST', '/jobs', { body: { dataset_id: dataset, job_index: i } })).body.result)
    const setStatus = (i: number, status: string) => t.call('PUT', `/datasets/${dataset}/jobs/${ids[i]}/status`, { body: { status } })
    await setStatus(0, 'complete')
    await setStatus(2, 'complete')
    await setStatus(3, 'failed')
    await setStatus(5, 'errors')
    // A status outside the documented list (written by some other tool) is listed after the known ones.
    t.ctx.sqlite.run(`UPDATE jobs SET doc = json_set(doc, '$.status', 'archived') WHERE job_id = ?`, [ids[4]])
    const summary = await t.call('GET', `/datasets/${dataset}/job_summaries/status`)
    expect(summary.status).toBe(200)
    expect(summary.text).toBe(JSON.stringify({ processing: [ids[1]], failed: [ids[3]], errors: [ids[5]], complete: [ids[0], ids[2]], archived: [ids[4]] }))
    const counts = await t.call('GET', `/datasets/${dataset}/job_counts/status`)
    expect(counts.text).toBe(JSON.stringify({ processing: 1, failed: 1, errors: 1, complete: 2, archived: 1 }))
    await setStatus(1, 'complete')
    expect((await t.call('GET', `/datasets/${dataset}/job_counts/status`)).text).toBe(JSON.stringify({ failed: 1, errors: 1, complete: 3, archived: 1 }))
  })

  test('an empty dataset has empty summaries; access follows read groups', async () => {
    const dataset = await createDataset('/simprod/filtering')
    for (const route of ['job_summaries/status', 'job_counts/status']) {
      expect((await t.call('GET', `/datasets/${dataset}/${route}`)).body).toEqual({})
      expect((await t.call('GET', `/datasets/${dataset}/${route}`, { token: tokens.parent })).status).toBe(200)
      expect((await t.call('GET', `/datasets/${dataset}/${route}`, { token: tokens.other })).status).toBe(403)
      expect((await t.call('GET', `/datasets/${dataset}/${route}`, { token: tokens.pilot })).status).toBe(403)
      expect((await t.call('GET', `/datasets/nosuch/${route}`)).status).toBe(404)
    }
  })
})
