import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MAX_JOBS_SUBMITTED, MAX_TASKS_SUBMITTED } from '../src/modules/datasets/model'
import { MAX_CONFIG_TASKS } from '../src/modules/scheduler/task-plan'
import { ID, startTestApp, TIMESTAMP, type TestApp } from './support'

let t: TestApp
/** Tokens by name: roles without groups, and `user` tokens holding groups. */
const tokens: Record<string, string> = {}
beforeAll(async () => {
  t = await startTestApp()
  for (const name of ['/simprod', '/simprod/filtering', '/other', '/simprodx']) {
    expect((await t.call('POST', '/groups', { body: { name } })).status).toBe(201)
  }
  for (const role of ['admin', 'system', 'client', 'pilot', 'user', 'anonymous']) tokens[role] = await t.token(role)
  tokens.simprod = await t.token('user', { username: 'alice', groups: ['/simprod'] })
  tokens.filtering = await t.token('user', { username: 'bob', groups: ['/simprod/filtering'] })
  tokens.other = await t.token('user', { username: 'carol', groups: ['/other'] })
  tokens.simprodx = await t.token('user', { username: 'dave', groups: ['/simprodx'] })
  tokens.anonymousFiltering = await t.token('anonymous', { groups: ['/simprod/filtering'] })
  tokens.pilotFiltering = await t.token('pilot', { groups: ['/simprod/filtering'] })
})
afterAll(() => t.close())

const base = { description: 'a dataset', jobs_submitted: 10, tasks_submitted: 20, group: '/simprod/filtering' }

async function createDataset(body: Record<string, unknown> = {}, token = tokens.admin!): Promise<string> {
  const r = await t.call('POST', '/datasets', { token, body: { ...base, ...body } })
  expect(r.status).toBe(201)
  return r.body.result.split('/')[2]
}

const seq = () => (t.ctx.sqlite.query("SELECT value FROM sequences WHERE name = 'dataset'").get() as { value: number }).value

describe('POST /datasets', () => {
  test('creates the dataset with its server fields, 201 with Location, and the access rule', async () => {
    const extra = { nested: { a: [1, 2.5, null, true, 'x'] }, flag: false, nothing: null, big: 12345678901, tasks_per_job: 2 }
    const before = seq()
    const r = await t.call('POST', '/datasets', { token: tokens.filtering, body: { ...base, ...extra } })
    expect(r.status).toBe(201)
    const datasetId = r.body.result.split('/')[2]
    expect(r.body).toEqual({ result: `/datasets/${datasetId}` })
    expect(r.headers.get('location')).toBe(`/datasets/${datasetId}`)
    expect(datasetId).toMatch(ID)
    const got = await t.call('GET', `/datasets/${datasetId}`)
    expect(got.body).toEqual({
      ...base,
      ...extra,
      priority: 0,
      debug: false,
      dataset_id: datasetId,
      dataset: before + 1,
      status: 'processing',
      start_date: expect.stringMatching(TIMESTAMP),
      username: 'bob',
    })
    // Extra fields keep their JSON form exactly (2.5 stays 2.5, null stays null).
    expect(got.text).toContain('"nested":{"a":[1,2.5,null,true,"x"]}')
    expect((await t.call('GET', `/auths/${datasetId}`)).body).toEqual({ read_groups: ['/simprod/filtering'], write_groups: ['/simprod/filtering'] })
  })

  test('server fields win over the body; priority and debug are kept when sent', async () => {
    const datasetId = await createDataset({ dataset_id: 'mine', dataset: 999, status: 'complete', start_date: 'x', username: 'mallory', priority: 2.5, debug: true })
    const dataset = (await t.call('GET', `/datasets/${datasetId}`)).body
    expect(dataset.dataset_id).toBe(datasetId)
    expect(dataset.dataset).toBe(seq())
    expect(dataset.status).toBe('processing')
    expect(dataset.start_date).toMatch(TIMESTAMP)
    expect(dataset.username).toBe('admin')
    expect(dataset.priority).toBe(2.5)
    expect(dataset.debug).toBe(true)
  })

  test('dataset numbers come from the sequences table and are consecutive, never reused', async () => {
    t.ctx.sqlite.run("UPDATE sequences SET value = 41 WHERE name = 'dataset'")
    const first = await createDataset()
    // A refused creation does not take a number.
    expect((await t.call('POST', '/datasets', { body: { ...base, group: '/nosuch' } })).status).toBe(400)
    const second = await createDataset()
    expect((await t.call('GET', `/datasets/${first}`)).body.dataset).toBe(42)
    expect((await t.call('GET', `/datasets/${second}`)).body.dataset).toBe(43)
    expect(seq()).toBe(43)
  })

  test.each([
    [{ jobs_submitted: 1, tasks_submitted: 1, group: '/other' }, 'missing key: description'],
    [{ description: 'd', tasks_submitted: 1, group: '/other' }, 'missing key: jobs_submitted'],
    [{ description: 'd', jobs_submitted: 1, group: '/other' }, 'missing key: tasks_submitted'],
    [{ description: 'd', jobs_submitted: 1, tasks_submitted: 1 }, 'missing key: group'],
    [{ ...base, description: 5 }, 'key description must be a string'],
    [{ ...base, jobs_submitted: '10' }, 'key jobs_submitted must be an integer'],
    [{ ...base, jobs_submitted: 1.5 }, 'key jobs_submitted must be an integer'],
    [{ ...base, tasks_submitted: null }, 'key tasks_submitted must be an integer'],
    [{ ...base, group: ['/other'] }, 'key group must be a string'],
    [{ ...base, priority: 'high' }, 'key priority must be a number'],
    [{ ...base, debug: 'yes' }, 'key debug must be a boolean'],
    [{ ...base, group: '/nosuch' }, 'no such group: /nosuch'],
  ])('rejects %j with 400 and writes nothing', async (body, message) => {
    const before = [t.count('datasets'), t.count('auths'), seq()]
    const r = await t.call('POST', '/datasets', { body })
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ code: 400, error: message })
    expect([t.count('datasets'), t.count('auths'), seq()]).toEqual(before)
  })

  test('a negative count is 400 naming the key', async () => {
    const r = await t.call('POST', '/datasets', { body: { ...base, jobs_submitted: -1 } })
    expect(r.status).toBe(400)
    expect(r.body.error).toContain('jobs_submitted')
  })

  test('a body that is not a JSON object is 400', async () => {
    const before = t.count('datasets')
    expect((await t.call('POST', '/datasets', { body: '[1]' })).status).toBe(400)
    expect((await t.call('POST', '/datasets', { body: '{"description":' })).status).toBe(400)
    expect((await t.call('POST', '/datasets')).status).toBe(400)
    expect(t.count('datasets')).toBe(before)
  })

  test('a user token must hold the group or a parent path group of it', async () => {
    expect((await t.call('POST', '/datasets', { token: tokens.filtering, body: base })).status).toBe(201)
    expect((await t.call('POST', '/datasets', { token: tokens.simprod, body: base })).status).toBe(201)
    const before = [t.count('datasets'), t.count('auths'), seq()]
    for (const token of [tokens.other, tokens.simprodx, tokens.user]) {
      const r = await t.call('POST', '/datasets', { token, body: base })
      expect(r.status).toBe(403)
      expect(r.body.code).toBe(403)
    }
    // A parent cannot be claimed from a child group.
    expect((await t.call('POST', '/datasets', { token: tokens.filtering, body: { ...base, group: '/simprod' } })).status).toBe(403)
    expect([t.count('datasets'), t.count('auths'), seq()]).toEqual(before)
  })

  test('only admin and user may create; no token is 401', async () => {
    const before = t.count('datasets')
    for (const role of ['system', 'client', 'pilot', 'anonymous']) {
      expect((await t.call('POST', '/datasets', { token: tokens[role], body: base })).status).toBe(403)
    }
    const r = await t.call('POST', '/datasets', { token: null, body: base })
    expect(r.status).toBe(401)
    expect(r.headers.get('www-authenticate')).toBe('Bearer')
    expect(t.count('datasets')).toBe(before)
  })
})

describe('GET /datasets', () => {
  let filtering: string
  let otherId: string
  beforeAll(async () => {
    filtering = await createDataset({ description: 'filtering one' })
    otherId = await createDataset({ group: '/other' })
    await t.call('PUT', `/datasets/${otherId}/status`, { body: { status: 'suspended' } })
  })

  test('privileged roles see every dataset, keyed by id, in creation order', async () => {
    const all = t.ctx.sqlite.query('SELECT dataset_id FROM datasets ORDER BY rowid').all().map((r: any) => r.dataset_id)
    for (const role of ['admin', 'system', 'client']) {
      const r = await t.call('GET', '/datasets', { token: tokens[role] })
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toStartWith('application/json')
      expect(Object.keys(r.body)).toEqual(all)
      expect(r.body[filtering].description).toBe('filtering one')
    }
  })

  test('a user token sees only the datasets its groups may read, parent path groups included', async () => {
    const readable = (token: string) => t.call('GET', '/datasets', { token }).then((r) => Object.keys(r.body))
    const filteringIds = t.ctx.sqlite
      .query("SELECT dataset_id FROM datasets WHERE json_extract(doc, '$.group') = '/simprod/filtering' ORDER BY rowid")
      .all()
      .map((r: any) => r.dataset_id)
    expect(await readable(tokens.filtering!)).toEqual(filteringIds)
    expect(await readable(tokens.simprod!)).toEqual(
      t.ctx.sqlite.query("SELECT dataset_id FROM datasets WHERE json_extract(doc, '$.group') LIKE '/simprod%' ORDER BY rowid").all().map((r: any) => r.dataset_id),
    )
    expect(await readable(tokens.other!)).toEqual([otherId])
    expect(await readable(tokens.simprodx!)).toEqual([])
    expect(await readable(tokens.user!)).toEqual([])
  })

  test('the status filter takes one status or several separated by |', async () => {
    const suspended = await t.call('GET', '/datasets?status=suspended')
    expect(Object.keys(suspended.body)).toEqual([otherId])
    const both = await t.call('GET', '/datasets?status=suspended|processing')
    expect(Object.keys(both.body)).toEqual(Object.keys((await t.call('GET', '/datasets')).body))
    expect((await t.call('GET', '/datasets?status=complete')).body).toEqual({})
  })

  test('a bad status filter is 400', async () => {
    const r = await t.call('GET', '/datasets?status=running')
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ code: 400, error: 'bad status: running' })
  })

  test('keys limits each dataset to those fields plus dataset_id', async () => {
    const r = await t.call('GET', '/datasets?keys=status|description|nosuchkey')
    expect(r.body[filtering]).toEqual({ dataset_id: filtering, status: 'processing', description: 'filtering one' })
    expect((await t.call('GET', '/datasets?keys=|')).status).toBe(400)
  })

  test('pilot and anonymous tokens are refused', async () => {
    expect((await t.call('GET', '/datasets', { token: tokens.pilot })).status).toBe(403)
    expect((await t.call('GET', '/datasets', { token: tokens.anonymousFiltering })).status).toBe(403)
    expect((await t.call('GET', '/datasets', { token: null })).status).toBe(401)
  })
})

describe('GET /datasets/<dataset_id>', () => {
  let datasetId: string
  beforeAll(async () => {
    datasetId = await createDataset()
  })

  test('admin, system, client and pilot may read any dataset', async () => {
    for (const role of ['admin', 'system', 'client', 'pilot']) {
      const r = await t.call('GET', `/datasets/${datasetId}`, { token: tokens[role] })
      expect(r.status).toBe(200)
      expect(r.body.dataset_id).toBe(datasetId)
    }
  })

  test('read access through groups, whatever the role', async () => {
    for (const name of ['filtering', 'simprod', 'anonymousFiltering']) {
      expect((await t.call('GET', `/datasets/${datasetId}`, { token: tokens[name] })).status).toBe(200)
    }
    for (const name of ['other', 'simprodx', 'user', 'anonymous']) {
      expect((await t.call('GET', `/datasets/${datasetId}`, { token: tokens[name] })).status).toBe(403)
    }
  })

  test('a missing dataset is 404 for a privileged role and 403 without access', async () => {
    const r = await t.call('GET', '/datasets/nosuchdataset')
    expect(r.status).toBe(404)
    expect(r.body.code).toBe(404)
    expect((await t.call('GET', '/datasets/nosuchdataset', { token: tokens.filtering })).status).toBe(403)
  })

  test('a malformed id matches no route: 404', async () => {
    expect(await t.call('GET', '/datasets/bad-id')).toMatchObject({ status: 404, body: { code: 404, error: 'not found' } })
  })
})

describe('PUT /datasets/<dataset_id>/status', () => {
  test('sets the status; {} on success', async () => {
    const datasetId = await createDataset()
    for (const status of ['suspended', 'errors', 'truncated', 'complete', 'processing']) {
      const r = await t.call('PUT', `/datasets/${datasetId}/status`, { body: { status } })
      expect(r.status).toBe(200)
      expect(r.body).toEqual({})
      expect((await t.call('GET', `/datasets/${datasetId}`)).body.status).toBe(status)
    }
  })

  test('bad or missing status is 400 and changes nothing', async () => {
    const datasetId = await createDataset()
    const stored = (await t.call('GET', `/datasets/${datasetId}`)).text
    const bad = await t.call('PUT', `/datasets/${datasetId}/status`, { body: { status: 'running' } })
    expect(bad.body).toEqual({ code: 400, error: 'bad status: running' })
    const missing = await t.call('PUT', `/datasets/${datasetId}/status`, { body: {} })
    expect(missing.body).toEqual({ code: 400, error: 'missing key: status' })
    const wrongType = await t.call('PUT', `/datasets/${datasetId}/status`, { body: { status: 3 } })
    expect(wrongType.body).toEqual({ code: 400, error: 'key status must be a string' })
    expect((await t.call('GET', `/datasets/${datasetId}`)).text).toBe(stored)
  })

  test('system and client may; write groups may; readers without write may not', async () => {
    const datasetId = await createDataset()
    for (const role of ['system', 'client']) {
      expect((await t.call('PUT', `/datasets/${datasetId}/status`, { token: tokens[role], body: { status: 'suspended' } })).status).toBe(200)
    }
    expect((await t.call('PUT', `/datasets/${datasetId}/status`, { token: tokens.simprod, body: { status: 'errors' } })).status).toBe(200)
    // Read-only access: the rule's write_groups no longer name the reader.
    expect((await t.call('PUT', `/auths/${datasetId}`, { body: { read_groups: ['/simprod/filtering'], write_groups: ['/other'] } })).status).toBe(200)
    for (const name of ['filtering', 'pilot', 'user', 'simprodx']) {
      expect((await t.call('PUT', `/datasets/${datasetId}/status`, { token: tokens[name], body: { status: 'complete' } })).status).toBe(403)
    }
    expect((await t.call('PUT', `/datasets/${datasetId}/status`, { token: tokens.other, body: { status: 'complete' } })).status).toBe(200)
    expect((await t.call('GET', `/datasets/${datasetId}`)).body.status).toBe('complete')
  })

  test('a missing dataset is 404 for admin', async () => {
    expect((await t.call('PUT', '/datasets/nosuch/status', { body: { status: 'complete' } })).status).toBe(404)
  })
})

describe('PUT /datasets/<dataset_id>/description', () => {
  test('sets the description for admin and writers', async () => {
    const datasetId = await createDataset()
    expect((await t.call('PUT', `/datasets/${datasetId}/description`, { body: { description: 'new' } })).body).toEqual({})
    expect((await t.call('GET', `/datasets/${datasetId}`)).body.description).toBe('new')
    expect((await t.call('PUT', `/datasets/${datasetId}/description`, { token: tokens.filtering, body: { description: 'ünïcødé "quoted"' } })).status).toBe(200)
    expect((await t.call('GET', `/datasets/${datasetId}`)).body.description).toBe('ünïcødé "quoted"')
  })

  test('system, client and non-writers are refused; bad bodies are 400', async () => {
    const datasetId = await createDataset()
    for (const name of ['system', 'client', 'pilot', 'other']) {
      expect((await t.call('PUT', `/datasets/${datasetId}/description`, { token: tokens[name], body: { description: 'x' } })).status).toBe(403)
    }
    expect((await t.call('PUT', `/datasets/${datasetId}/description`, { body: {} })).body.error).toBe('missing key: description')
    expect((await t.call('PUT', `/datasets/${datasetId}/description`, { body: { description: 1 } })).body.error).toBe('key description must be a string')
    expect((await t.call('GET', `/datasets/${datasetId}`)).body.description).toBe(base.description)
    expect((await t.call('PUT', '/datasets/nosuch/description', { body: { description: 'x' } })).status).toBe(404)
  })
})

describe('PUT /datasets/<dataset_id>/jobs_submitted', () => {
  test('sets jobs_submitted; never below the jobs already created', async () => {
    const datasetId = await createDataset({ jobs_submitted: 5 })
    for (const jobIndex of [0, 1, 2]) {
      expect((await t.call('POST', '/jobs', { body: { dataset_id: datasetId, job_index: jobIndex } })).status).toBe(201)
    }
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: 3 } })).body).toEqual({})
    expect((await t.call('GET', `/datasets/${datasetId}`)).body.jobs_submitted).toBe(3)
    const below = await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: 2 } })
    expect(below.status).toBe(400)
    expect(below.body.error).toBe('key jobs_submitted cannot be below the 3 jobs already created')
    expect((await t.call('GET', `/datasets/${datasetId}`)).body.jobs_submitted).toBe(3)
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { token: tokens.filtering, body: { jobs_submitted: 100 } })).status).toBe(200)
    expect((await t.call('GET', `/datasets/${datasetId}`)).body.jobs_submitted).toBe(100)
  })

  test('keeps tasks_submitted in step when the dataset has tasks_per_job', async () => {
    const datasetId = await createDataset({ jobs_submitted: 5, tasks_submitted: 15, tasks_per_job: 3 })
    await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: 7 } })
    const dataset = (await t.call('GET', `/datasets/${datasetId}`)).body
    expect([dataset.jobs_submitted, dataset.tasks_submitted]).toEqual([7, 21])
    const plain = await createDataset({ jobs_submitted: 5, tasks_submitted: 15 })
    await t.call('PUT', `/datasets/${plain}/jobs_submitted`, { body: { jobs_submitted: 7 } })
    expect((await t.call('GET', `/datasets/${plain}`)).body.tasks_submitted).toBe(15)
  })

  test('tasks_submitted follows only a tasks_per_job of 1 to 1,000 (a config\'s most tasks): within its bound, never null; any other is kept as sent', async () => {
    for (const tasks_per_job of [MAX_CONFIG_TASKS + 1, 1e300, 1e302, -1, 2.5, '3']) {
      const datasetId = await createDataset({ tasks_per_job })
      expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: MAX_JOBS_SUBMITTED } })).status).toBe(200)
      const dataset = (await t.call('GET', `/datasets/${datasetId}`)).body
      expect({ tasks_per_job: dataset.tasks_per_job, jobs_submitted: dataset.jobs_submitted, tasks_submitted: dataset.tasks_submitted }).toEqual({
        tasks_per_job,
        jobs_submitted: MAX_JOBS_SUBMITTED,
        tasks_submitted: base.tasks_submitted,
      })
    }
    const widest = await createDataset({ tasks_per_job: MAX_CONFIG_TASKS })
    expect((await t.call('PUT', `/datasets/${widest}/jobs_submitted`, { body: { jobs_submitted: MAX_JOBS_SUBMITTED } })).status).toBe(200)
    expect((await t.call('GET', `/datasets/${widest}`)).body.tasks_submitted).toBe(MAX_TASKS_SUBMITTED)
  })

  test('validation and roles', async () => {
    const datasetId = await createDataset()
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: '4' } })).body.error).toBe('key jobs_submitted must be an integer')
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: 4.5 } })).body.error).toBe('key jobs_submitted must be an integer')
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: {} })).body.error).toBe('missing key: jobs_submitted')
    expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { body: { jobs_submitted: -1 } })).status).toBe(400)
    for (const name of ['system', 'client', 'other']) {
      expect((await t.call('PUT', `/datasets/${datasetId}/jobs_submitted`, { token: tokens[name], body: { jobs_submitted: 50 } })).status).toBe(403)
    }
    expect((await t.call('GET', `/datasets/${datasetId}`)).body.jobs_submitted).toBe(base.jobs_submitted)
  })
})

describe('GET /dataset_summaries/status', () => {
  test('dataset ids grouped by status, in status order, only statuses that occur, for what the token may see', async () => {
    const other = await startTestApp()
    try {
      await other.call('POST', '/groups', { body: { name: '/a' } })
      await other.call('POST', '/groups', { body: { name: '/b' } })
      const make = async (group: string, status: string) => {
        const r = await other.call('POST', '/datasets', { body: { ...base, group } })
        const id = r.body.result.split('/')[2]
        if (status !== 'processing') await other.call('PUT', `/datasets/${id}/status`, { body: { status } })
        return id
      }
      const c1 = await make('/a', 'complete')
      const p1 = await make('/b', 'processing')
      const s1 = await make('/a', 'suspended')
      const c2 = await make('/b', 'complete')
      const p2 = await make('/a', 'processing')
      const all = await other.call('GET', '/dataset_summaries/status')
      expect(all.status).toBe(200)
      expect(all.text).toBe(JSON.stringify({ processing: [p1, p2], suspended: [s1], complete: [c1, c2] }))
      const onlyA = await other.call('GET', '/dataset_summaries/status', { token: await other.token('user', { groups: ['/a'] }) })
      expect(onlyA.text).toBe(JSON.stringify({ processing: [p2], suspended: [s1], complete: [c1] }))
      expect((await other.call('GET', '/dataset_summaries/status', { token: await other.token('user') })).body).toEqual({})
      expect((await other.call('GET', '/dataset_summaries/status', { token: await other.token('client') })).body).toEqual(all.body)
      expect((await other.call('GET', '/dataset_summaries/status', { token: await other.token('pilot') })).status).toBe(403)
    } finally {
      other.close()
    }
  })
})
