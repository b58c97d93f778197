import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
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
    try {
      const r = await other.call('GET', '/healthz', { token: null })
      expect(r.status).toBe(503)
      expect(r.body).toEqual({ code: 503, error: expect.any(String) })
    } finally {
      // Its database is closed already: what close() does besides, and its folder.
      other.events.close()
      other.scheduler.stop()
      rmSync(other.dir, { recursive: true, force: true })
    }
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

  test('/openapi loads its viewer from this server only, under a policy that allows nothing else', async () => {
    const page = await t.call('GET', '/openapi', { token: null })
    // No absolute URL anywhere in the page: no CDN, no other host.
    expect(page.text).not.toMatch(/https?:|\/\//)
    const sources = [...page.text.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    expect(sources.sort()).toEqual(['data:,', 'openapi/swagger-ui-bundle.js', 'openapi/swagger-ui.css', 'openapi/viewer.js'])
    // Inline scripts would need 'unsafe-inline': there are none.
    expect(page.text.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull()
    const policy = page.headers.get('content-security-policy')!
    const directives = Object.fromEntries(policy.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]))
    expect(directives['default-src']).toEqual(["'self'"])
    for (const values of Object.values(directives) as string[][]) {
      for (const value of values) expect(["'self'", "'none'", 'data:']).toContain(value)
    }
    expect(directives['script-src']).toBeUndefined()
    expect(directives['frame-ancestors']).toEqual(["'none'"])
  })

  test('the viewer assets are the pinned package files, with their content types, public', async () => {
    const files: [string, string, string | null][] = [
      ['/openapi/swagger-ui-bundle.js', 'text/javascript', 'node_modules/swagger-ui-dist/swagger-ui-bundle.js'],
      ['/openapi/swagger-ui.css', 'text/css', 'node_modules/swagger-ui-dist/swagger-ui.css'],
      ['/openapi/viewer.js', 'text/javascript', null],
    ]
    for (const [path, type, file] of files) {
      const r = await t.call('GET', path, { token: null })
      expect({ path, status: r.status, type: r.headers.get('content-type')?.split(';')[0], nosniff: r.headers.get('x-content-type-options') }).toEqual({ path, status: 200, type, nosniff: 'nosniff' })
      if (file) expect(r.text).toBe(await Bun.file(file).text())
    }
    const viewer = await t.call('GET', '/openapi/viewer.js', { token: null })
    // Reads the document beside the page, and sends it to no validator.
    expect(viewer.text).toContain("url: 'openapi/json'")
    expect(viewer.text).toContain('validatorUrl: null')
    expect(viewer.text).not.toMatch(/https?:/)
  })

  test('an unknown route is a JSON 404', async () => {
    const r = await t.call('GET', '/no/such/route')
    expect(r.status).toBe(404)
    expect(r.body).toEqual({ code: 404, error: 'not found' })
  })
})
