/**
 * The dashboard's page and files as the app serves them in-process (the
 * server run from the sources) and as the compiled binary serves them: the
 * same bytes, under the same headers. The views themselves are tested in a
 * browser (dashboard.test.ts).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServerProcess, type ServerProcess } from './server-process'
import { startTestApp, type TestApp } from './support'

setDefaultTimeout(60_000)

let t: TestApp
let server: ServerProcess
let dir: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iceprod-ui-'))
  ;[t, server] = await Promise.all([startTestApp(), startServerProcess(join(dir, 'db.sqlite'))])
}, 120_000)
afterAll(async () => {
  t.close()
  server.proc.kill('SIGTERM')
  await server.proc.exited
  rmSync(dir, { recursive: true, force: true })
})

const inProcess = (path: string, headers: Record<string, string> = {}) => t.app.handle(new Request(`http://localhost${path}`, { headers }))

describe('/ui', () => {
  test('every view is the same page, whose files are found relative to it; a token is not needed', async () => {
    const pages: Record<string, string> = {
      '/ui/': '../',
      '/ui/grids': '../',
      '/ui/datasets/abc': '../../',
      '/ui/datasets/abc/tasks/def_1': '../../../../',
    }
    for (const [path, root] of Object.entries(pages)) {
      const r = await inProcess(path)
      expect({ path, status: r.status, type: r.headers.get('content-type') }).toEqual({ path, status: 200, type: 'text/html; charset=utf-8' })
      expect(r.headers.get('content-security-policy')).toBe("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
      // The API viewer's page is sent under the same policy.
      expect(r.headers.get('content-security-policy')).toBe((await inProcess('/openapi')).headers.get('content-security-policy'))
      const html = await r.text()
      expect(html).toContain(`<meta name="iceprod-root" content="${root}">`)
      expect(html).toMatch(new RegExp(`<script type="module" src="${root.replaceAll('.', '\\.')}ui/app\\.js\\?v=[\\w-]+"></script>`))
      expect(html).not.toContain('<script>')
    }
    const bare = await inProcess('/ui')
    expect({ status: bare.status, location: bare.headers.get('location') }).toEqual({ status: 308, location: 'ui/' })
    for (const path of ['/ui/nosuch', '/ui/datasets', '/ui/datasets/a.b', '/ui/datasets/a/tasks', '/ui/app.jsx']) expect({ path, status: (await inProcess(path)).status }).toEqual({ path, status: 404 })
  })

  test('the script and styles: the same from the sources as from the binary, kept for good at the address the page names, revalidated by ETag at any other', async () => {
    const named = (await (await inProcess('/ui/')).text()).match(/app\.js\?v=([\w-]+)"/)![1]!
    for (const [file, type] of [['app.js', 'text/javascript'], ['app.css', 'text/css']] as const) {
      const [fromSource, fromBinary] = await Promise.all([inProcess(`/ui/${file}`), fetch(`${server.url}/ui/${file}`)])
      expect(fromSource.status).toBe(200)
      expect(fromSource.headers.get('content-type')).toStartWith(type)
      expect(fromSource.headers.get('cache-control')).toBe('no-cache')
      const etag = fromSource.headers.get('etag')!
      expect(etag).toMatch(/^"[\w-]{22}"$/)
      // The page names each file by the build's hash, which is the ETag's.
      expect(`"${named}"`).toBe(etag)
      for (const [version, cacheControl] of [[named, 'public, max-age=31536000, immutable'], ['an-older-build', 'no-cache'], ['', 'no-cache']] as const) {
        const [source, binary] = await Promise.all([inProcess(`/ui/${file}?v=${version}`), fetch(`${server.url}/ui/${file}?v=${version}`)])
        expect({ version, source: source.headers.get('cache-control'), binary: binary.headers.get('cache-control') }).toEqual({ version, source: cacheControl, binary: cacheControl })
        expect(await source.text()).toBe(await binary.text())
      }
      expect(fromBinary.headers.get('etag')).toBe(etag)
      const [source, binary] = [await fromSource.text(), await fromBinary.text()]
      expect(source.length).toBeGreaterThan(type === 'text/css' ? 1000 : 10_000)
      expect(binary).toBe(source)
      const again = await inProcess(`/ui/${file}`, { 'if-none-match': etag })
      expect({ status: again.status, body: await again.text() }).toEqual({ status: 304, body: '' })
    }
  })

  test('the bundle has no address of another host in it', async () => {
    const js = await (await inProcess('/ui/app.js')).text()
    const css = await (await inProcess('/ui/app.css')).text()
    expect(css).not.toMatch(/url\(|@import/)
    // Preact names the SVG and MathML namespaces (never fetched); nothing else.
    const addresses = [...js.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((m) => m[0])
    expect(addresses.filter((a) => !a.startsWith('http://www.w3.org/'))).toEqual([])
  })
})
