/**
 * The task routes of API.md 4.5.
 * With the scheduler off (ICEPROD_SCHEDULER=off), as a site whose IceProd
 * scheduled tasks drive the server has it; the scheduler's own behaviour is
 * tested in test/scheduler-*.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { newId } from '../src/db/documents'
import { MAX_DEPENDS } from '../src/modules/scheduler/task-plan'
import { datasetFixture, expectCreated, ID, startTestApp, TIMESTAMP, type TestApp } from './support'

let t: TestApp
const tokens: Record<string, string> = {}
let datasetId: string
let otherDatasetId: string
let createDataset: (group: string) => Promise<string>
let jobId: string
let otherJobId: string
beforeAll(async () => {
  t = await startTestApp({ scheduler: false })
  ;({ datasetId, otherDatasetId, createDataset } = await datasetFixture(t, tokens))
  jobId = await createJob(datasetId, 3)
  otherJobId = await createJob(otherDatasetId, 0)
})
afterAll(() => t.close())



async function createJob(dataset: string, jobIndex: number): Promise<string> {
  const r = await t.call('POST', '/jobs', { body: { dataset_id: dataset, job_index: jobIndex } })
  expect(r.status).toBe(201)
  return r.body.result
}

const taskBody = (overrides: Record<string, unknown> = {}) => ({
  dataset_id: datasetId,
  job_id: jobId,
  task_index: 0,
  name: 'generate',
  depends: [],
  requirements: { cpu: 1, memory: 2.5 },
  ...overrides,
})

async function createTask(overrides: Record<string, unknown> = {}, token = tokens.admin): Promise<string> {
  const r = await t.call('POST', '/tasks', { token, body: taskBody(overrides) })
  expect(r.status).toBe(201)
  return r.body.result
}

const storedDoc = (taskId: string) => (t.ctx.sqlite.query('SELECT doc FROM tasks WHERE task_id = ?').get(taskId) as { doc: string }).doc
const writeCounts = () => [t.count('tasks'), t.count('task_depends'), JSON.stringify(t.ctx.sqlite.query('SELECT * FROM task_counts ORDER BY dataset_id, status').all())]

describe('POST /tasks', () => {
  test('creates a task with every server field; 201 with the id and Location', async () => {
    const extra = { extra: { nested: [1, 2.5, null, true] }, note: null, priority: 0.75 }
    const r = await t.call('POST', '/tasks', { token: tokens.system, body: taskBody({ depends: ['abc', 'def'], ...extra }) })
    const taskId = expectCreated(r, '/tasks')
    const task = await t.call('GET', `/tasks/${taskId}`)
    expect(task.body).toEqual({
      ...taskBody({ depends: ['abc', 'def'], ...extra }),
      task_id: taskId,
      job_index: 3,
      status: 'waiting',
      status_changed: expect.stringMatching(TIMESTAMP),
      failures: 0,
      evictions: 0,
      walltime: 0,
      walltime_err: 0,
      walltime_err_n: 0,
    })
    expect(task.text).toContain('"extra":{"nested":[1,2.5,null,true]}')
    expect(t.ctx.sqlite.query('SELECT depends_on FROM task_depends WHERE task_id = ? ORDER BY depends_on').all(taskId)).toEqual([{ depends_on: 'abc' }, { depends_on: 'def' }])
  })

  test('server fields win over the body', async () => {
    const taskId = await createTask({ task_id: 'mine', job_index: 99, status: 'complete', status_changed: 'x', failures: 5, evictions: 6, walltime: 7, walltime_err: 8, walltime_err_n: 9 })
    const task = (await t.call('GET', `/tasks/${taskId}`)).body
    expect(task).toMatchObject({ task_id: taskId, job_index: 3, status: 'waiting', failures: 0, evictions: 0, walltime: 0, walltime_err: 0, walltime_err_n: 0 })
    expect(task.status_changed).toMatch(TIMESTAMP)
  })

  test.each([
    ['dataset_id', 'missing key: dataset_id'],
    ['job_id', 'missing key: job_id'],
    ['task_index', 'missing key: task_index'],
    ['name', 'missing key: name'],
    ['depends', 'missing key: depends'],
    ['requirements', 'missing key: requirements'],
  ])('without %s is 400 and writes nothing', async (key, message) => {
    const body: Record<string, unknown> = taskBody()
    delete body[key]
    const before = writeCounts()
    const r = await t.call('POST', '/tasks', { body })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ code: 400, error: message })
    expect(writeCounts()).toEqual(before)
  })

  test.each([
    [{ dataset_id: 5 }, 'key dataset_id must be a string'],
    [{ job_id: null }, 'key job_id must be a string'],
    [{ task_index: '0' }, 'key task_index must be an integer'],
    [{ task_index: 0.5 }, 'key task_index must be an integer'],
    [{ name: 3 }, 'key name must be a string'],
    [{ depends: 'abc' }, 'key depends must be an array'],
    [{ depends: [1] }, 'key depends.0 must be a string'],
    [{ requirements: 'cpu' }, 'key requirements must be an object'],
  ])('rejects %j with 400 and writes nothing', async (overrides, message) => {
    const before = writeCounts()
    const r = await t.call('POST', '/tasks', { body: taskBody(overrides) })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ code: 400, error: message })
    expect(writeCounts()).toEqual(before)
  })

  test('negative task_index and non-object requirements are 400 naming the key', async () => {
    const before = writeCounts()
    for (const [overrides, key] of [[{ task_index: -1 }, 'task_index'], [{ requirements: [] }, 'requirements'], [{ requirements: null }, 'requirements']] as const) {
      const r = await t.call('POST', '/tasks', { body: taskBody(overrides) })
      expect(r.status).toBe(400)
      expect(r.body.error).toContain(key)
    }
    expect(writeCounts()).toEqual(before)
  })

  test(`depends lists at most ${MAX_DEPENDS} ids: one more is 400 and writes nothing`, async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `dep${i}`)
    const before = writeCounts()
    const r = await t.call('POST', '/tasks', { body: taskBody({ depends: ids(MAX_DEPENDS + 1) }) })
    expect(r.body).toEqual({ code: 400, error: `key depends holds more than ${MAX_DEPENDS} items` })
    expect(writeCounts()).toEqual(before)
    const taskId = await createTask({ depends: ids(MAX_DEPENDS) })
    expect(t.ctx.sqlite.query('SELECT count(*) AS n FROM task_depends WHERE task_id = ?').get(taskId)).toEqual({ n: MAX_DEPENDS })
  })

  test('the job must exist in the task dataset (400)', async () => {
    const before = writeCounts()
    const missing = await t.call('POST', '/tasks', { body: taskBody({ job_id: 'nosuchjob' }) })
    expect(missing.body).toEqual({ code: 400, error: `no such job: nosuchjob in dataset ${datasetId}` })
    const elsewhere = await t.call('POST', '/tasks', { body: taskBody({ job_id: otherJobId }) })
    expect(elsewhere.status).toBe(400)
    const noDataset = await t.call('POST', '/tasks', { body: taskBody({ dataset_id: 'nosuchdataset' }) })
    expect(noDataset.status).toBe(400)
    expect(writeCounts()).toEqual(before)
  })

  test('admin, system and client only', async () => {
    for (const role of ['admin', 'system', 'client']) await createTask({}, tokens[role])
    const before = writeCounts()
    for (const name of ['pilot', 'user', 'anonymous', 'writer']) expect((await t.call('POST', '/tasks', { token: tokens[name], body: taskBody() })).status).toBe(403)
    expect((await t.call('POST', '/tasks', { token: null, body: taskBody() })).status).toBe(401)
    expect(writeCounts()).toEqual(before)
  })

  test('concurrent creations all commit; a refused one among them writes nothing and fails alone', async () => {
    const before = t.count('tasks')
    const requests = Array.from({ length: 60 }, (_, i) =>
      t.call('POST', '/tasks', { body: i % 10 === 5 ? taskBody({ job_id: 'nosuchjob' }) : taskBody({ task_index: i, depends: [`dep${i}`] }) }),
    )
    const replies = await Promise.all(requests)
    const created = replies.filter((r) => r.status === 201).map((r) => r.body.result as string)
    expect(replies.filter((r) => r.status === 400)).toHaveLength(6)
    expect(created).toHaveLength(54)
    expect(new Set(created).size).toBe(54)
    expect(t.count('tasks')).toBe(before + 54)
    for (const taskId of created) expect(JSON.parse(storedDoc(taskId)).task_id).toBe(taskId)
  })
})

describe('GET /tasks/<task_id>', () => {
  test('returns the stored document; admin, system, client and pilot', async () => {
    const taskId = await createTask()
    for (const role of ['admin', 'system', 'client', 'pilot']) {
      const r = await t.call('GET', `/tasks/${taskId}`, { token: tokens[role] })
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toStartWith('application/json')
      expect(r.text).toBe(storedDoc(taskId))
    }
    for (const name of ['user', 'anonymous', 'writer']) expect((await t.call('GET', `/tasks/${taskId}`, { token: tokens[name] })).status).toBe(403)
    expect((await t.call('GET', `/tasks/${taskId}`, { token: null })).status).toBe(401)
  })

  test('a missing task is 404; a malformed id matches no route (404)', async () => {
    const r = await t.call('GET', '/tasks/nosuchtask')
    expect(r.status).toBe(404)
    expect(r.body).toEqual({ code: 404, error: 'task nosuchtask not found' })
    expect((await t.call('GET', '/tasks/no-such')).body).toEqual({ code: 404, error: 'not found' })
  })
})

describe('PATCH /tasks/<task_id>', () => {
  test('merges top-level keys and returns the whole updated task', async () => {
    const taskId = await createTask({ keep: 'me', requirements: { cpu: 1, os: 'RHEL_8' } })
    const r = await t.call('PATCH', `/tasks/${taskId}`, { token: tokens.pilot, body: { requirements: { gpu: 1 }, added: [1, { a: null }], walltime: 1.5 } })
    expect(r.status).toBe(200)
    expect(r.text).toBe(storedDoc(taskId))
    expect(r.body).toMatchObject({ keep: 'me', requirements: { gpu: 1 }, added: [1, { a: null }], walltime: 1.5, task_id: taskId, status: 'waiting' })
  })

  test('a status is validated, refreshes status_changed and moves the counts', async () => {
    const dataset = await createDataset('/other')
    const job = await createJob(dataset, 0)
    const taskId = await createTask({ dataset_id: dataset, job_id: job })
    t.ctx.sqlite.run(`UPDATE tasks SET doc = json_set(doc, '$.status_changed', '2000-01-01T00:00:00.000000') WHERE task_id = ?`, [taskId])
    const r = await t.call('PATCH', `/tasks/${taskId}`, { body: { status: 'suspended' } })
    expect(r.body.status).toBe('suspended')
    expect(r.body.status_changed).toMatch(TIMESTAMP)
    expect(r.body.status_changed).not.toBe('2000-01-01T00:00:00.000000')
    expect((await t.call('GET', `/datasets/${dataset}/task_counts/status`)).body).toEqual({ suspended: 1 })
    const stored = storedDoc(taskId)
    expect((await t.call('PATCH', `/tasks/${taskId}`, { body: { status: 'running', x: 1 } })).body).toEqual({ code: 400, error: 'bad status: running' })
    expect((await t.call('PATCH', `/tasks/${taskId}`, { body: { status: 5 } })).body).toEqual({ code: 400, error: 'key status must be a string' })
    expect(storedDoc(taskId)).toBe(stored)
  })

  test(`a new depends list holds at most ${MAX_DEPENDS} ids: one more is 400 and changes nothing`, async () => {
    const taskId = await createTask({ depends: ['a'] })
    const stored = storedDoc(taskId)
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `dep${i}`)
    const r = await t.call('PATCH', `/tasks/${taskId}`, { body: { depends: ids(MAX_DEPENDS + 1), note: 'x' } })
    expect(r.body).toEqual({ code: 400, error: `key depends holds more than ${MAX_DEPENDS} items` })
    expect(storedDoc(taskId)).toBe(stored)
    expect((await t.call('PATCH', `/tasks/${taskId}`, { body: { depends: ids(MAX_DEPENDS) } })).body.depends).toHaveLength(MAX_DEPENDS)
  })

  test('a new depends list is mirrored for the queue', async () => {
    const taskId = await createTask({ depends: ['a'] })
    await t.call('PATCH', `/tasks/${taskId}`, { body: { depends: ['b', 'c'] } })
    expect(t.ctx.sqlite.query('SELECT depends_on FROM task_depends WHERE task_id = ? ORDER BY depends_on').all(taskId)).toEqual([{ depends_on: 'b' }, { depends_on: 'c' }])
  })

  test('cannot change task_id, dataset_id, job_id or job_index; known keys keep their types; nothing changes', async () => {
    const taskId = await createTask()
    const stored = storedDoc(taskId)
    for (const [key, value] of [['task_id', 'other'], ['dataset_id', otherDatasetId], ['job_id', otherJobId], ['job_index', 0]] as const) {
      const r = await t.call('PATCH', `/tasks/${taskId}`, { body: { [key]: value, x: 1 } })
      expect(r.status).toBe(400)
      expect(r.body.error).toBe(`key ${key} cannot be changed`)
    }
    for (const [body, message] of [
      [{ task_index: 'x' }, 'key task_index must be an integer'],
      [{ name: 1 }, 'key name must be a string'],
      [{ depends: 'a' }, 'key depends must be an array'],
      [{ requirements: 1 }, 'key requirements must be an object'],
      [{ failures: 1.5 }, 'key failures must be an integer'],
      [{ walltime: 'long' }, 'key walltime must be a number'],
      [{}, 'empty body'],
    ] as const) {
      expect((await t.call('PATCH', `/tasks/${taskId}`, { body })).body).toEqual({ code: 400, error: message })
    }
    expect(storedDoc(taskId)).toBe(stored)
  })

  test('missing task 404; users refused', async () => {
    expect((await t.call('PATCH', '/tasks/nosuch', { body: { a: 1 } })).status).toBe(404)
    const taskId = await createTask()
    for (const name of ['user', 'anonymous', 'writer']) expect((await t.call('PATCH', `/tasks/${taskId}`, { token: tokens[name], body: { a: 1 } })).status).toBe(403)
    expect(JSON.parse(storedDoc(taskId)).a).toBeUndefined()
  })
})

describe('PUT /tasks/<task_id>/status', () => {
  test('sets status and status_changed for admin, system, client and pilot', async () => {
    const taskId = await createTask()
    for (const [role, status] of [['admin', 'idle'], ['system', 'queued'], ['client', 'processing'], ['pilot', 'failed']] as const) {
      t.ctx.sqlite.run(`UPDATE tasks SET doc = json_set(doc, '$.status_changed', '2000-01-01T00:00:00.000000') WHERE task_id = ?`, [taskId])
      const r = await t.call('PUT', `/tasks/${taskId}/status`, { token: tokens[role], body: { status } })
      expect(r.status).toBe(200)
      expect(r.body).toEqual({})
      const task = JSON.parse(storedDoc(taskId))
      expect(task.status).toBe(status)
      expect(task.status_changed).not.toBe('2000-01-01T00:00:00.000000')
    }
  })

  test('bad status 400, missing task 404, users 403; nothing changes', async () => {
    const taskId = await createTask()
    const stored = storedDoc(taskId)
    expect((await t.call('PUT', `/tasks/${taskId}/status`, { body: { status: 'done' } })).body).toEqual({ code: 400, error: 'bad status: done' })
    expect((await t.call('PUT', `/tasks/${taskId}/status`, { body: {} })).body).toEqual({ code: 400, error: 'missing key: status' })
    expect((await t.call('PUT', '/tasks/nosuch/status', { body: { status: 'complete' } })).status).toBe(404)
    for (const name of ['user', 'writer']) expect((await t.call('PUT', `/tasks/${taskId}/status`, { token: tokens[name], body: { status: 'complete' } })).status).toBe(403)
    expect(storedDoc(taskId)).toBe(stored)
  })
})

/** A task in the other dataset (created once). */
let otherTask: string
const otherTaskOf = () => otherTask

describe('task listings', () => {
  let dataset: string
  let jobA: string
  let jobB: string
  let ids: string[]
  beforeAll(async () => {
    dataset = await createDataset('/simprod/filtering')
    jobA = await createJob(dataset, 0)
    jobB = await createJob(dataset, 1)
    ids = []
    for (let i = 0; i < 6; i++) {
      ids.push(await createTask({ dataset_id: dataset, job_id: i < 3 ? jobA : jobB, task_index: i % 3, name: `step${i % 3}`, payload: { i } }))
    }
    await t.call('PUT', `/tasks/${ids[1]}/status`, { body: { status: 'queued' } })
    await t.call('PUT', `/tasks/${ids[4]}/status`, { body: { status: 'complete' } })
    await t.call('PATCH', `/tasks/${ids[2]}`, { body: { grid_id: 'grid1' } })
    await t.call('PATCH', `/tasks/${ids[5]}`, { body: { grid_id: 'grid1' } })
    await t.call('PATCH', `/tasks/${ids[3]}`, { body: { grid_id: 'grid2' } })
    otherTask = await createTask({ dataset_id: otherDatasetId, job_id: otherJobId })
  })

  test('GET /datasets/<d>/tasks: every task keyed by id, in creation order, documents as stored', async () => {
    const r = await t.call('GET', `/datasets/${dataset}/tasks`)
    expect(r.status).toBe(200)
    expect(Object.keys(r.body)).toEqual(ids)
    expect(r.text).toBe('{' + ids.map((id) => `"${id}":${storedDoc(id)}`).join(',') + '}')
  })

  test('GET /datasets/<d>/tasks filters by status, job_id, job_index and grid_id, alone or together', async () => {
    const keys = async (query: string) => {
      const r = await t.call('GET', `/datasets/${dataset}/tasks?${query}`)
      expect(r.status).toBe(200)
      return Object.keys(r.body)
    }
    expect(await keys('status=waiting')).toEqual([ids[0], ids[2], ids[3], ids[5]])
    expect(await keys('status=complete|queued')).toEqual([ids[1], ids[4]])
    expect(await keys('status=failed')).toEqual([])
    expect(await keys(`job_id=${jobB}`)).toEqual(ids.slice(3))
    expect(await keys('job_index=0')).toEqual(ids.slice(0, 3))
    expect(await keys('job_index=7')).toEqual([])
    expect(await keys('grid_id=grid1')).toEqual([ids[2], ids[5]])
    expect(await keys(`grid_id=grid1&job_id=${jobB}`)).toEqual([ids[5]])
    expect(await keys('status=waiting&job_index=1&grid_id=grid2')).toEqual([ids[3]])
    expect(await keys(`job_id=${otherJobId}`)).toEqual([])
  })

  test('bad filters are 400 naming the parameter', async () => {
    expect((await t.call('GET', `/datasets/${dataset}/tasks?status=done`)).body).toEqual({ code: 400, error: 'bad status: done' })
    expect((await t.call('GET', `/datasets/${dataset}/tasks?status=waiting|done`)).body).toEqual({ code: 400, error: 'bad status: done' })
    for (const value of ['x', '1.5', '', ' 1', '0x1']) {
      expect((await t.call('GET', `/datasets/${dataset}/tasks?job_index=${encodeURIComponent(value)}`)).body).toEqual({ code: 400, error: 'query parameter job_index must be an integer' })
    }
  })

  test('name filters by task name, alone or with the others', async () => {
    const keys = async (query: string) => Object.keys((await t.call('GET', `/datasets/${dataset}/tasks?${query}`)).body)
    expect(await keys('name=step1')).toEqual([ids[1], ids[4]])
    expect(await keys('name=step1&status=complete')).toEqual([ids[4]])
    expect(await keys(`name=step2&job_id=${jobB}`)).toEqual([ids[5]])
    expect(await keys('name=nosuch')).toEqual([])
  })

  test('limit and after page the listing in creation order: each page continues after the last id of the one before', async () => {
    const page = async (query: string) => {
      const r = await t.call('GET', `/datasets/${dataset}/tasks?${query}`)
      expect(r.status).toBe(200)
      return Object.keys(r.body)
    }
    expect(await page('limit=2')).toEqual(ids.slice(0, 2))
    expect(await page(`limit=2&after=${ids[1]}`)).toEqual(ids.slice(2, 4))
    expect(await page(`limit=2&after=${ids[3]}`)).toEqual(ids.slice(4, 6))
    expect(await page(`limit=2&after=${ids[5]}`)).toEqual([])
    expect(await page(`after=${ids[2]}`)).toEqual(ids.slice(3))
    expect(await page('limit=100')).toEqual(ids)
    // With filters: `after` may name a task the filter leaves out; the page starts after its place.
    expect(await page(`status=waiting&limit=1&after=${ids[0]}`)).toEqual([ids[2]])
    expect(await page(`status=waiting|complete&after=${ids[1]}&limit=3`)).toEqual([ids[2], ids[3], ids[4]])
    expect(await page(`name=step2&after=${ids[0]}&limit=1&keys=name`)).toEqual([ids[2]])
  })

  test('a bad limit or after is 400 naming the parameter, and changes nothing', async () => {
    const before = t.count('tasks')
    for (const value of ['0', '-1', 'x', '1.5', '', ' 2', '1e3', '99999999999999999999']) {
      const r = await t.call('GET', `/datasets/${dataset}/tasks?limit=${encodeURIComponent(value)}`)
      expect({ value, status: r.status, error: r.body.error }).toEqual({ value, status: 400, error: expect.stringContaining('query parameter limit') })
    }
    // `after` must be a task of this dataset.
    for (const value of ['nosuch', '', otherTaskOf(), 'x'.repeat(300)]) {
      const r = await t.call('GET', `/datasets/${dataset}/tasks?after=${encodeURIComponent(value)}&limit=2`)
      expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: { code: 400, error: `query parameter after: no task ${value} in dataset ${dataset}` } })
    }
    expect((await t.call('GET', `/datasets/${dataset}/tasks?limit=2&limit=3`)).body).toEqual({ code: 400, error: 'query parameter limit given more than once' })
    expect(t.count('tasks')).toBe(before)
  })

  test('paging follows the same access rule as the listing', async () => {
    expect((await t.call('GET', `/datasets/${dataset}/tasks?limit=1&after=${ids[0]}`, { token: tokens.parent })).status).toBe(200)
    // 403 before the query is looked at: a caller without access learns nothing about the dataset's task ids.
    expect((await t.call('GET', `/datasets/${dataset}/tasks?limit=1&after=nosuch`, { token: tokens.other })).status).toBe(403)
  })

  test('keys projects each task, keeping task_id', async () => {
    const r = await t.call('GET', `/datasets/${dataset}/tasks?keys=status|payload|nosuch`)
    expect(r.body[ids[4]!]).toEqual({ task_id: ids[4], status: 'complete', payload: { i: 4 } })
    expect(Object.keys(r.body)).toEqual(ids)
  })

  test("keys projects a task's own keys alone, __proto__ too; Object.prototype's are none", async () => {
    const own = await createDataset('/simprod/filtering')
    const id = await createTask({ dataset_id: own, job_id: await createJob(own, 0), ['__proto__']: { kept: true } })
    expect(storedDoc(id)).toContain('"__proto__":{"kept":true}')
    const r = await t.call('GET', `/datasets/${own}/tasks?keys=__proto__|toString|constructor|name`)
    expect(r.status).toBe(200)
    expect(r.text).toBe(`{"${id}":{"task_id":"${id}","__proto__":{"kept":true},"name":"generate"}}`)
  })

  test('GET /datasets/<d>/tasks access: readers through groups; others 403; missing dataset 404', async () => {
    for (const name of ['system', 'client', 'writer', 'parent']) expect((await t.call('GET', `/datasets/${dataset}/tasks`, { token: tokens[name] })).status).toBe(200)
    for (const name of ['pilot', 'user', 'other', 'anonymous']) expect((await t.call('GET', `/datasets/${dataset}/tasks`, { token: tokens[name] })).status).toBe(403)
    expect((await t.call('GET', '/datasets/nosuch/tasks')).status).toBe(404)
    expect((await t.call('GET', '/datasets/nosuch/tasks', { token: tokens.writer })).status).toBe(403)
  })

  test('GET /tasks: {"tasks": [...]} over every dataset, in creation order, with status and keys', async () => {
    const all = await t.call('GET', '/tasks', { token: tokens.client })
    expect(all.status).toBe(200)
    const everything = t.ctx.sqlite.query('SELECT task_id FROM tasks ORDER BY rowid').all().map((r: any) => r.task_id)
    expect(all.body.tasks.map((task: any) => task.task_id)).toEqual(everything)
    const completeOrQueued = await t.call('GET', '/tasks?status=queued|complete&keys=status')
    expect(completeOrQueued.body.tasks).toEqual(
      t.ctx.sqlite.query("SELECT task_id, status FROM tasks WHERE status IN ('queued', 'complete') ORDER BY rowid").all(),
    )
    expect((await t.call('GET', '/tasks?status=idle')).text).toBe('{"tasks":[]}')
    expect((await t.call('GET', '/tasks?status=nope')).body).toEqual({ code: 400, error: 'bad status: nope' })
    for (const name of ['pilot', 'user', 'writer']) expect((await t.call('GET', '/tasks', { token: tokens[name] })).status).toBe(403)
  })

  test('GET /datasets/<d>/tasks/<t>: the task, 404 in another dataset', async () => {
    const r = await t.call('GET', `/datasets/${dataset}/tasks/${ids[0]}`, { token: tokens.parent })
    expect(r.status).toBe(200)
    expect(r.text).toBe(storedDoc(ids[0]!))
    expect((await t.call('GET', `/datasets/${otherDatasetId}/tasks/${ids[0]}`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/${dataset}/tasks/nosuch`)).status).toBe(404)
    expect((await t.call('GET', `/datasets/${dataset}/tasks/${ids[0]}`, { token: tokens.other })).status).toBe(403)
    expect((await t.call('GET', `/datasets/${dataset}/tasks/${ids[0]}`, { token: tokens.pilot })).status).toBe(403)
  })
})

describe('large listings stream', () => {
  test('tasks beyond one page come back complete, each once, in creation order, for each filter', async () => {
    const dataset = await createDataset('/other')
    const job = await createJob(dataset, 0)
    const statuses = ['idle', 'waiting', 'queued', 'processing', 'reset', 'suspended', 'failed', 'complete']
    const rows: { id: string; status: string; jobIndex: number }[] = []
    // One statement for every row: an insert into tasks is long to prepare (the triggers that keep the counts come with it).
    const insert = t.ctx.sqlite.prepare('INSERT INTO tasks (task_id, doc) VALUES (?, ?)')
    t.ctx.sqlite.transaction(() => {
      for (let i = 0; i < 2600; i++) {
        const taskId = newId()
        const status = statuses[(i * 3) % 8]!
        const jobIndex = i % 2
        rows.push({ id: taskId, status, jobIndex })
        const doc = { task_id: taskId, dataset_id: dataset, job_id: job, job_index: jobIndex, task_index: 0, name: 'n', depends: [], requirements: {}, status, note: 'ü'.repeat(i % 5) }
        insert.run(taskId, JSON.stringify(doc))
      }
    })()
    insert.finalize()
    const all = await t.call('GET', `/datasets/${dataset}/tasks`)
    expect(all.status).toBe(200)
    expect(Object.keys(all.body)).toEqual(rows.map((r) => r.id))
    const some = await t.call('GET', `/datasets/${dataset}/tasks?status=waiting|complete|idle&job_index=1&keys=status`)
    const expected = rows.filter((r) => ['waiting', 'complete', 'idle'].includes(r.status) && r.jobIndex === 1)
    expect(expected.length).toBeGreaterThan(0)
    expect(Object.entries(some.body)).toEqual(expected.map((r) => [r.id, { task_id: r.id, status: r.status }]))
    // Pages across the internal page boundary: limits and starts that are not multiples of it.
    const paged: string[] = []
    let after = ''
    for (;;) {
      const r = await t.call('GET', `/datasets/${dataset}/tasks?limit=700&keys=status${after ? `&after=${after}` : ''}`)
      const page = Object.keys(r.body)
      paged.push(...page)
      if (page.length < 700) break
      after = page[page.length - 1]!
    }
    expect(paged).toEqual(rows.map((r) => r.id))
    const wide = await t.call('GET', `/datasets/${dataset}/tasks?limit=1500&after=${rows[99]!.id}&status=waiting|complete`)
    expect(Object.keys(wide.body)).toEqual(rows.slice(100).filter((r) => ['waiting', 'complete'].includes(r.status)).slice(0, 1500).map((r) => r.id))
    const global = await t.call('GET', '/tasks?status=reset&keys=dataset_id')
    expect(global.body.tasks.filter((task: any) => task.dataset_id === dataset).map((task: any) => task.task_id)).toEqual(rows.filter((r) => r.status === 'reset').map((r) => r.id))
  })
})

describe('PUT /datasets/<d>/tasks/<t>/status', () => {
  test('writers set status and status_changed; readers are refused; another dataset is 404', async () => {
    const taskId = await createTask()
    t.ctx.sqlite.run(`UPDATE tasks SET doc = json_set(doc, '$.status_changed', '2000-01-01T00:00:00.000000') WHERE task_id = ?`, [taskId])
    const r = await t.call('PUT', `/datasets/${datasetId}/tasks/${taskId}/status`, { token: tokens.writer, body: { status: 'suspended' } })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({})
    const task = JSON.parse(storedDoc(taskId))
    expect(task.status).toBe('suspended')
    expect(task.status_changed).toMatch(TIMESTAMP)
    expect(task.status_changed).not.toBe('2000-01-01T00:00:00.000000')
    const stored = storedDoc(taskId)
    for (const name of ['reader', 'pilot', 'other']) {
      expect((await t.call('PUT', `/datasets/${datasetId}/tasks/${taskId}/status`, { token: tokens[name], body: { status: 'complete' } })).status).toBe(403)
    }
    expect((await t.call('PUT', `/datasets/${otherDatasetId}/tasks/${taskId}/status`, { body: { status: 'complete' } })).status).toBe(404)
    expect((await t.call('PUT', `/datasets/${datasetId}/tasks/${taskId}/status`, { body: { status: 'over' } })).body).toEqual({ code: 400, error: 'bad status: over' })
    expect(storedDoc(taskId)).toBe(stored)
  })
})

describe('task summaries, counts and stats', () => {
  let dataset: string
  let job: string
  beforeAll(async () => {
    dataset = await createDataset('/simprod/filtering')
    job = await createJob(dataset, 0)
  })
  const make = (name: string, taskIndex: number) => createTask({ dataset_id: dataset, job_id: job, name, task_index: taskIndex })

  test('summaries and counts list the statuses that occur, in status order', async () => {
    const ids = [await make('b', 1), await make('a', 0), await make('b', 1), await make('c', 2), await make('a', 0)]
    await t.call('PUT', `/tasks/${ids[0]}/status`, { body: { status: 'complete' } })
    await t.call('PUT', `/tasks/${ids[3]}/status`, { body: { status: 'idle' } })
    await t.call('PUT', `/tasks/${ids[4]}/status`, { body: { status: 'failed' } })
    await t.call('PUT', `/tasks/${ids[2]}/status`, { body: { status: 'complete' } })
    const summary = await t.call('GET', `/datasets/${dataset}/task_summaries/status`, { token: tokens.parent })
    expect(summary.status).toBe(200)
    expect(summary.text).toBe(JSON.stringify({ idle: [ids[3]], waiting: [ids[1]], failed: [ids[4]], complete: [ids[0], ids[2]] }))
    const counts = await t.call('GET', `/datasets/${dataset}/task_counts/status`)
    expect(counts.text).toBe(JSON.stringify({ idle: 1, waiting: 1, failed: 1, complete: 2 }))
    await t.call('PUT', `/tasks/${ids[3]}/status`, { body: { status: 'complete' } })
    expect((await t.call('GET', `/datasets/${dataset}/task_counts/status`)).text).toBe(JSON.stringify({ waiting: 1, failed: 1, complete: 3 }))
    // Names in order of their lowest task_index, statuses in status order.
    const byName = await t.call('GET', `/datasets/${dataset}/task_counts/name_status`)
    expect(byName.text).toBe(JSON.stringify({ a: { waiting: 1, failed: 1 }, b: { complete: 2 }, c: { complete: 1 } }))
  })

  test('task_stats: walltime statistics per name over complete tasks, ordered by task_index', async () => {
    const other = await startTestApp({ scheduler: false })
    try {
      await other.call('POST', '/groups', { body: { name: '/g' } })
      const d = (await other.call('POST', '/datasets', { body: { description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: '/g' } })).body.result.split('/')[2]
      const j = (await other.call('POST', '/jobs', { body: { dataset_id: d, job_index: 0 } })).body.result
      const task = async (name: string, taskIndex: number, requirements: Record<string, unknown> = {}) =>
        (await other.call('POST', '/tasks', { body: { dataset_id: d, job_id: j, task_index: taskIndex, name, depends: [], requirements } })).body.result as string
      const done = (taskId: string, walltime: number, walltimeErr: number) =>
        other.call('PATCH', `/tasks/${taskId}`, { body: { status: 'complete', walltime, walltime_err: walltimeErr } })
      const f1 = await task('filter', 1, { gpu: 1 })
      const f2 = await task('filter', 1, { gpu: 2 })
      const f3 = await task('filter', 1)
      const g1 = await task('generate', 0, { gpu: 'any' })
      const waiting = await task('filter', 1, { gpu: 5 })
      const z = await task('zero', 2)
      await task('never', 3)
      await done(f1, 1, 0.5)
      await done(f2, 2, 0)
      await done(f3, 3, 1.5)
      await done(g1, 0.25, 0)
      await done(z, 0, 0)
      expect(waiting).toMatch(ID)
      const r = await other.call('GET', `/datasets/${d}/task_stats`)
      expect(r.status).toBe(200)
      expect(Object.keys(r.body)).toEqual(['generate', 'filter', 'zero'])
      expect(r.body.filter).toEqual({ count: 3, gpu: 3, total_hrs: 6, total_err_hrs: 2, avg_hrs: 2, stddev_hrs: 1, min_hrs: 1, max_hrs: 3, efficiency: 0.75 })
      expect(r.body.generate).toEqual({ count: 1, gpu: 0, total_hrs: 0.25, total_err_hrs: 0, avg_hrs: 0.25, stddev_hrs: null, min_hrs: 0.25, max_hrs: 0.25, efficiency: 1 })
      expect(r.body.zero.efficiency).toBe(0)
      expect(r.body.never).toBeUndefined()
    } finally {
      other.close()
    }
  })

  test("names that are Object.prototype's own (__proto__, constructor) are counted as any other", async () => {
    const other = await createDataset('/simprod/filtering')
    const otherJob = await createJob(other, 0)
    const names = ['__proto__', 'constructor', 'toString']
    for (const [index, name] of names.entries()) {
      const id = await createTask({ dataset_id: other, job_id: otherJob, name, task_index: index })
      expect((await t.call('PATCH', `/tasks/${id}`, { body: { status: 'complete', walltime: 1, walltime_err: 0 } })).status).toBe(200)
    }
    const byName = await t.call('GET', `/datasets/${other}/task_counts/name_status`)
    expect(byName.text).toBe('{"__proto__":{"complete":1},"constructor":{"complete":1},"toString":{"complete":1}}')
    const stats = await t.call('GET', `/datasets/${other}/task_stats`)
    expect(stats.text).toStartWith('{"__proto__":{"count":1,')
    expect(Object.keys(JSON.parse(stats.text))).toEqual(names)
  })

  test('empty datasets give {}; access follows read groups; missing dataset 404', async () => {
    const empty = await createDataset('/simprod/filtering')
    for (const route of ['task_summaries/status', 'task_counts/status', 'task_counts/name_status', 'task_stats']) {
      expect((await t.call('GET', `/datasets/${empty}/${route}`)).text).toBe('{}')
      for (const name of ['system', 'client', 'reader', 'parent']) expect((await t.call('GET', `/datasets/${datasetId}/${route}`, { token: tokens[name] })).status).toBe(200)
      for (const name of ['pilot', 'user', 'other']) expect((await t.call('GET', `/datasets/${datasetId}/${route}`, { token: tokens[name] })).status).toBe(403)
      expect((await t.call('GET', `/datasets/nosuch/${route}`)).status).toBe(404)
    }
  })
})
