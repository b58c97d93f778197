import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestApp, type TestApp } from './support'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(() => t.close())

describe('service routes', () => {
  test('GET / names the service and version, without a token', async () => {
    const r = await t.call('GET', '/', { token: null })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ service: 'iceprod-rest', version: expect.any(String) })
    expect(r.headers.get('content-type')).toStartWith('application/json')
  })

  test('public routes ignore a bad Authorization header', async () => {
    const r = await t.call('GET', '/healthz', { token: 'garbage' })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ status: 'ok' })
  })

  test('/healthz is 503 when the database does not answer', async () => {
    const other = await startTestApp()
    other.ctx.sqlite.close()
    const r = await other.call('GET', '/healthz', { token: null })
    expect(r.status).toBe(503)
    expect(r.body).toEqual({ code: 503, error: expect.any(String) })
  })

  test('OpenAPI document lists the routes, and /openapi serves HTML', async () => {
    const doc = await t.call('GET', '/openapi/json', { token: null })
    expect(doc.status).toBe(200)
    expect(Object.keys(doc.body.paths)).toContain('/groups')
    // Request bodies carry their JSON schema.
    const body = doc.body.paths['/groups'].post.requestBody.content['application/json'].schema
    expect(body.required).toEqual(['name'])
    expect(body.properties.name.type).toBe('string')
    const page = await t.call('GET', '/openapi', { token: null })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
  })

  test('an unknown route is a JSON 404', async () => {
    const r = await t.call('GET', '/no/such/route')
    expect(r.status).toBe(404)
    expect(r.body).toEqual({ code: 404, error: 'not found' })
  })
})
