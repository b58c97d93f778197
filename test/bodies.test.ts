/**
 * Bodies as IceProd's clients send them (API.md §1): JSON whatever the
 * Content-Type says, and no body where a route needs one is a 400 that
 * changes nothing, never a body of `{}`. The same refusals on every route
 * are in bad-input-transport.test.ts; over a real socket in bad-input-wire.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestApp, type TestApp } from './support'

let t: TestApp
let datasetId: string
beforeAll(async () => {
  t = await startTestApp()
  await t.call('POST', '/groups', { body: { name: '/bodies' } })
  const r = await t.call('POST', '/datasets', { body: { description: 'd', jobs_submitted: 1, tasks_submitted: 1, group: '/bodies' } })
  datasetId = r.body.result.split('/').pop()
})
afterAll(() => t.close())

/** A request with exactly this body and Content-Type (none when null). */
async function send(method: string, path: string, body: string | undefined, contentType: string | null) {
  const headers: Record<string, string> = { authorization: `Bearer ${t.adminToken}` }
  if (contentType !== null) headers['content-type'] = contentType
  const response = await t.app.handle(new Request(`http://localhost${path}`, { method, headers, body }))
  return { status: response.status, body: (await response.json()) as any }
}

describe('Content-Type', () => {
  test('JSON labelled as a form (Tornado, curl -d), as text, or not labelled is stored as JSON', async () => {
    const types = ['application/x-www-form-urlencoded', 'text/plain', null, 'application/json']
    for (const [i, type] of types.entries()) {
      const r = await send('POST', '/groups', JSON.stringify({ name: `/bodies/form${i}`, priority: 2 }), type)
      expect({ type, status: r.status }).toEqual({ type, status: 201 })
      const stored = await t.call('GET', r.body.result)
      expect(stored.body).toMatchObject({ name: `/bodies/form${i}`, priority: 2 })
    }
  })

  test('a form-encoded body that is not JSON is 400, not read as a form', async () => {
    const r = await send('POST', '/groups', 'name=%2Fbodies%2Fx', 'application/x-www-form-urlencoded')
    expect(r).toEqual({ status: 400, body: { code: 400, error: 'body is not valid JSON' } })
  })
})

describe('no body', () => {
  for (const path of ['/datasets/:d/config', '/config/:d']) {
    test(`PUT ${path} without a body is 400 and keeps the stored config`, async () => {
      const url = path.replace(':d', datasetId)
      expect((await t.call('PUT', url, { body: { tasks: [{ name: 'generate' }], version: 3 } })).status).toBe(200)
      for (const contentType of [null, 'application/json', 'application/x-www-form-urlencoded']) {
        expect(await send('PUT', url, undefined, contentType)).toEqual({ status: 400, body: { code: 400, error: 'missing body' } })
        expect(await send('PUT', url, '', contentType)).toEqual({ status: 400, body: { code: 400, error: 'missing body' } })
      }
      expect((await t.call('GET', url)).body).toEqual({ tasks: [{ name: 'generate' }], version: 3, dataset_id: datasetId })
    })
  }

  test('routes whose keys are all optional still need a body: `{}` is one, nothing is not', async () => {
    expect(await send('POST', '/task_actions/queue', undefined, null)).toEqual({ status: 400, body: { code: 400, error: 'missing body' } })
    expect(await send('POST', '/task_actions/queue', '{}', null)).toEqual({ status: 200, body: { queued: 0 } })
  })

  test('PUT /roles/<name> takes no body, an empty one, or one (API.md: the body is optional)', async () => {
    expect(await send('PUT', '/roles/bodies_none', undefined, null)).toEqual({ status: 200, body: {} })
    expect(await send('PUT', '/roles/bodies_empty', '', 'application/json')).toEqual({ status: 200, body: {} })
    expect(await send('PUT', '/roles/bodies_extra', '{"quota": 3}', 'text/plain')).toEqual({ status: 200, body: {} })
    expect((await t.call('GET', '/roles/bodies_none')).body).toEqual({ name: 'bodies_none' })
    expect((await t.call('GET', '/roles/bodies_empty')).body).toEqual({ name: 'bodies_empty' })
    expect((await t.call('GET', '/roles/bodies_extra')).body).toEqual({ name: 'bodies_extra', quota: 3 })
    expect(await send('PUT', '/roles/bodies_none', '{"name": "other"}', null)).toMatchObject({ status: 400 })
    expect(await send('PUT', '/roles/bodies_none', '{"name": 5}', null)).toEqual({ status: 400, body: { code: 400, error: 'key name must be a string' } })
  })
})

describe('routes that take no body', () => {
  test('a JSON body on a DELETE is ignored; one that is not JSON is 400 like on any route', async () => {
    expect((await t.call('PUT', '/roles/bodies_gone', { body: {} })).status).toBe(200)
    expect(await send('DELETE', '/roles/bodies_gone', '{"reason": "cleanup"}', 'text/plain')).toEqual({ status: 200, body: {} })
    expect((await t.call('GET', '/roles/bodies_gone')).status).toBe(404)
    expect((await t.call('PUT', '/roles/bodies_kept', { body: {} })).status).toBe(200)
    expect(await send('DELETE', '/roles/bodies_kept', 'reason=cleanup', 'application/x-www-form-urlencoded')).toEqual({ status: 400, body: { code: 400, error: 'body is not valid JSON' } })
    expect((await t.call('GET', '/roles/bodies_kept')).status).toBe(200)
  })
})
