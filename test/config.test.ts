import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestApp, type TestApp } from './support'

let t: TestApp
let datasetId: string
const tokens: Record<string, string> = {}
beforeAll(async () => {
  t = await startTestApp()
  for (const name of ['/simprod', '/simprod/filtering', '/other', '/reader']) await t.call('POST', '/groups', { body: { name } })
  const r = await t.call('POST', '/datasets', { body: { description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: '/simprod/filtering' } })
  datasetId = r.body.result.split('/')[2]
  await t.call('PUT', `/auths/${datasetId}`, { body: { read_groups: ['/simprod/filtering', '/reader'], write_groups: ['/simprod/filtering'] } })
  for (const role of ['admin', 'system', 'client', 'pilot', 'user']) tokens[role] = await t.token(role)
  tokens.writer = await t.token('user', { groups: ['/simprod/filtering'] })
  tokens.parent = await t.token('anonymous', { groups: ['/simprod'] })
  tokens.reader = await t.token('user', { groups: ['/reader'] })
  tokens.other = await t.token('user', { groups: ['/other'] })
})
afterAll(() => t.close())

const config = {
  version: 3,
  options: { debug: false, nested: { list: [1, 2.5, null, 'x', { deep: true }] } },
  tasks: [{ name: 'generate', trays: [] }],
  description: 'ünïcødé ✓',
}

describe.each(['/datasets/:id/config', '/config/:id'])('%s', (pattern) => {
  const path = (id: string) => pattern.replace(':id', id)

  test('no config yet is 404', async () => {
    const fresh = (await t.call('POST', '/datasets', { body: { description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: '/other' } })).body.result.split('/')[2]
    const r = await t.call('GET', path(fresh))
    expect(r.status).toBe(404)
    expect(r.body.code).toBe(404)
  })

  test('PUT stores the whole config, GET returns it exactly with dataset_id set', async () => {
    const put = await t.call('PUT', path(datasetId), { body: config })
    expect(put.status).toBe(200)
    expect(put.body).toEqual({})
    const got = await t.call('GET', path(datasetId))
    expect(got.status).toBe(200)
    expect(got.body).toEqual({ ...config, dataset_id: datasetId })
    expect(got.text).toContain('"nested":{"list":[1,2.5,null,"x",{"deep":true}]}')
  })

  test('PUT replaces the config rather than merging', async () => {
    await t.call('PUT', path(datasetId), { body: config })
    expect((await t.call('PUT', path(datasetId), { body: { only: 'this' } })).status).toBe(200)
    expect((await t.call('GET', path(datasetId))).body).toEqual({ only: 'this', dataset_id: datasetId })
    // An empty object is a valid config too.
    expect((await t.call('PUT', path(datasetId), { body: {} })).status).toBe(200)
    expect((await t.call('GET', path(datasetId))).body).toEqual({ dataset_id: datasetId })
  })

  test("the path's dataset_id replaces the body's: a config copied from another dataset is stored as it is", async () => {
    const otherDatasetId = (await t.call('POST', '/datasets', { body: { description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: '/other' } })).body.result.split('/')[2]
    expect((await t.call('PUT', path(otherDatasetId), { body: { ...config, version: 4 } })).status).toBe(200)
    const copied = (await t.call('GET', path(otherDatasetId))).body
    expect(copied.dataset_id).toBe(otherDatasetId)
    const r = await t.call('PUT', path(datasetId), { body: copied })
    expect(r).toMatchObject({ status: 200, body: {} })
    expect((await t.call('GET', path(datasetId))).body).toEqual({ ...copied, dataset_id: datasetId })
    // Whatever the body's dataset_id holds.
    for (const dataset_id of [datasetId, 'another', 7, null, { nested: true }]) {
      expect((await t.call('PUT', path(datasetId), { body: { x: 1, dataset_id } })).status).toBe(200)
      expect((await t.call('GET', path(datasetId))).body).toEqual({ x: 1, dataset_id: datasetId })
    }
    // The other dataset's config is untouched.
    expect((await t.call('GET', path(otherDatasetId))).body).toEqual(copied)
  })

  test('a body that is not a JSON object is 400 and changes nothing', async () => {
    await t.call('PUT', path(datasetId), { body: config })
    const stored = (await t.call('GET', path(datasetId))).text
    expect((await t.call('PUT', path(datasetId), { body: '[1,2]' })).status).toBe(400)
    expect((await t.call('PUT', path(datasetId), { body: '{"a":' })).status).toBe(400)
    expect((await t.call('GET', path(datasetId))).text).toBe(stored)
  })

  test('a missing dataset is 404 for admin and 403 for group tokens', async () => {
    const before = t.count('configs')
    expect((await t.call('PUT', path('nosuch'), { body: config })).status).toBe(404)
    expect((await t.call('GET', path('nosuch'))).status).toBe(404)
    expect((await t.call('PUT', path('nosuch'), { token: tokens.writer, body: config })).status).toBe(403)
    expect(t.count('configs')).toBe(before)
  })

  test('GET: admin, client, pilot and readers; not system nor others', async () => {
    await t.call('PUT', path(datasetId), { body: config })
    for (const name of ['admin', 'client', 'pilot', 'writer', 'parent', 'reader']) {
      expect((await t.call('GET', path(datasetId), { token: tokens[name] })).status).toBe(200)
    }
    for (const name of ['system', 'user', 'other']) {
      expect((await t.call('GET', path(datasetId), { token: tokens[name] })).status).toBe(403)
    }
    expect((await t.call('GET', path(datasetId), { token: null })).status).toBe(401)
  })

  test('PUT: admin and writers (parent path group included); readers and services refused, nothing changed', async () => {
    await t.call('PUT', path(datasetId), { body: config })
    expect((await t.call('PUT', path(datasetId), { token: tokens.writer, body: { by: 'writer' } })).status).toBe(200)
    expect((await t.call('PUT', path(datasetId), { token: tokens.parent, body: { by: 'parent' } })).status).toBe(200)
    expect((await t.call('GET', path(datasetId))).body.by).toBe('parent')
    for (const name of ['system', 'client', 'pilot', 'reader', 'other']) {
      expect((await t.call('PUT', path(datasetId), { token: tokens[name], body: { by: name } })).status).toBe(403)
    }
    expect((await t.call('GET', path(datasetId))).body.by).toBe('parent')
  })
})

test('the alias and the dataset route share one stored config', async () => {
  await t.call('PUT', `/config/${datasetId}`, { body: { via: 'alias' } })
  expect((await t.call('GET', `/datasets/${datasetId}/config`)).body).toEqual({ via: 'alias', dataset_id: datasetId })
})
