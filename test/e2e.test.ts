/**
 * End to end: the compiled binary, alone in an empty folder and run
 * without Bun on its PATH, creates its database, prints an admin token, serves,
 * and stops cleanly on SIGTERM. The tests that share nothing run at the same time.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { copyFileSync, existsSync, linkSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builtBinary } from './binary'
import { freePort } from './ldap-server'

// These tests start real processes: allow more than the 5 s default on a busy machine.
setDefaultTimeout(60_000)

let dir: string
let binary: string
const env = { PATH: '/nonexistent', HOME: '/nonexistent' }

beforeAll(async () => {
  // Exactly the binary `bun run build` makes.
  const built = await builtBinary()
  dir = mkdtempSync(join(tmpdir(), 'iceprod-e2e-'))
  binary = join(dir, 'iceprod-rest')
  // A second name for the same file (copying its 120 MB costs a second), or a copy across file systems.
  try {
    linkSync(built, binary)
  } catch {
    copyFileSync(built, binary)
  }
  expect(readdirSync(dir)).toEqual(['iceprod-rest'])
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the binary to its end in the test folder (without blocking the tests running beside it). */
async function run(args: string[], extraEnv: Record<string, string> = {}) {
  const proc = Bun.spawn([binary, ...args], { cwd: dir, env: { ...env, ...extraEnv }, stdout: 'pipe', stderr: 'pipe' })
  const [exitCode, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()])
  return { exitCode, stdout, stderr }
}

async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp, seen: { text: string }): Promise<RegExpMatchArray> {
  const reader = stream.getReader()
  const decoder = new TextDecoder()
  try {
    for (;;) {
      const match = seen.text.match(pattern)
      if (match) return match
      const { value, done } = await reader.read()
      if (done) throw new Error(`stream ended before ${pattern}: ${seen.text}`)
      seen.text += decoder.decode(value)
    }
  } finally {
    reader.releaseLock()
  }
}

describe('the compiled binary', () => {
  test.concurrent('--help and a bad flag', async () => {
    const [help, bad] = await Promise.all([run(['serve', '--help']), run(['serve', '--frobnicate'])])
    expect(help.exitCode).toBe(0)
    expect(help.stdout).toContain('--port')
    expect(bad.exitCode).not.toBe(0)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
  })

  test.concurrent('first start creates the database, prints an admin token and serves; SIGTERM stops it cleanly', async () => {
    const port = await freePort()
    const server = Bun.spawn([binary, 'serve', '--port', String(port)], { cwd: dir, env, stderr: 'pipe', stdout: 'pipe' })
    const stdout = new Response(server.stdout).text()
    const seen = { text: '' }
    try {
      const token = (await readUntil(server.stderr, /admin token[^\n]*\n(\S+)\n/, seen))[1]!
      await readUntil(server.stderr, /listening on/, seen)
      const base = `http://127.0.0.1:${port}`
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' })
      // The first-start token works on an admin route.
      const roles = await fetch(`${base}/roles`, { headers: { authorization: `Bearer ${token}` } })
      expect(roles.status).toBe(200)
      // So does a token printed by `iceprod-rest token` (same secret, found the same way).
      const minted = await run(['token', '--username', 'admin', '--role', 'admin'])
      expect(minted.exitCode).toBe(0)
      const cliToken = minted.stdout.trim()
      const created = await fetch(`${base}/groups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cliToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: '/e2e' }),
      })
      expect(created.status).toBe(201)
      expect((await fetch(`${base}/roles`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401)
      // The checkpoint worker starts (from the bundled entrypoint) once the server has written, within a second.
      await readUntil(server.stderr, /background checkpoints (started|unavailable)/, seen)
    } finally {
      server.kill('SIGTERM')
    }
    expect(await server.exited).toBe(0)
    await readUntil(server.stderr, /stopped\n/, seen)
    expect(seen.text).toContain('background checkpoints started')
    expect(seen.text).not.toContain('background checkpoints unavailable')
    // No framework warning (Elysia prints one when the bundler left a route's hooks unreadable to it, and falls back to slower handlers).
    expect(await stdout).toBe('')
    expect(seen.text).not.toMatch(/^\[\w+\]|warning/im)
    const data = join(dir, 'iceprod-data')
    expect(existsSync(join(data, 'iceprod.sqlite'))).toBe(true)
    expect(statSync(join(data, 'jwt-secret')).mode & 0o777).toBe(0o600)
    // A clean close leaves no WAL content to recover.
    const wal = join(data, 'iceprod.sqlite-wal')
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0)
  })

  test.concurrent('migrate on a fresh path creates a database; a short secret is refused', async () => {
    const [migrate, short] = await Promise.all([
      run(['migrate', '--db', join(dir, 'other', 'db.sqlite')]),
      run(['token', '--username', 'a', '--role', 'admin'], { ICEPROD_JWT_SECRET: 'short' }),
    ])
    expect(migrate.exitCode).toBe(0)
    expect(existsSync(join(dir, 'other', 'db.sqlite'))).toBe(true)
    expect(short.exitCode).not.toBe(0)
    expect(short.stderr).toContain('shorter than 32 bytes')
  })

  test.concurrent('the first serve after a bare migrate still prints the admin token', async () => {
    const db = join(dir, 'migrated', 'db.sqlite')
    expect((await run(['migrate', '--db', db])).exitCode).toBe(0)
    const port = await freePort()
    const server = Bun.spawn([binary, 'serve', '--db', db, '--port', String(port)], { cwd: dir, env, stderr: 'pipe', stdout: 'ignore' })
    const seen = { text: '' }
    try {
      const token = (await readUntil(server.stderr, /admin token[^\n]*\n(\S+)\n/, seen))[1]!
      await readUntil(server.stderr, /listening on/, seen)
      expect((await fetch(`http://127.0.0.1:${port}/users`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    } finally {
      server.kill('SIGTERM')
    }
    expect(await server.exited).toBe(0)
  })

  // After the first start, whose database it opens again.
  test('a restart on the existing database prints no new token and keeps the data', async () => {
    const port = await freePort()
    const server = Bun.spawn([binary, 'serve', '--port', String(port)], { cwd: dir, env, stderr: 'pipe', stdout: 'ignore' })
    const seen = { text: '' }
    try {
      await readUntil(server.stderr, /listening on/, seen)
      expect(seen.text).not.toContain('admin token')
      const token = (await run(['token', '--username', 'admin', '--role', 'admin'])).stdout.trim()
      const groups = (await (await fetch(`http://127.0.0.1:${port}/groups`, { headers: { authorization: `Bearer ${token}` } })).json()) as { results: { name: string }[] }
      expect(groups.results.map((g) => g.name)).toEqual(['/e2e'])
      // The API docs' viewer is embedded in the binary: the page and every file it loads.
      const page = await fetch(`http://127.0.0.1:${port}/openapi`)
      expect(page.headers.get('content-security-policy')).toStartWith("default-src 'self'")
      // Every file but the inline icon.
      const sources = [...(await page.text()).matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((source) => source !== 'data:,')
      expect(sources).toHaveLength(3)
      for (const source of sources) {
        const asset = await fetch(`http://127.0.0.1:${port}/${source}`)
        expect({ source, status: asset.status, type: asset.headers.get('content-type')?.split(';')[0] }).toEqual({
          source,
          status: 200,
          type: source.endsWith('.css') ? 'text/css' : 'text/javascript',
        })
        const packaged = join('node_modules/swagger-ui-dist', source.slice('openapi/'.length))
        // viewer.js is the server's own starter; the other two are the package's files, byte for byte.
        if (source !== 'openapi/viewer.js') expect(Buffer.from(await asset.arrayBuffer()).equals(Buffer.from(await Bun.file(packaged).arrayBuffer()))).toBe(true)
      }
      // A second binary on the same port is refused and leaves this one serving.
      const second = await run(['serve', '--port', String(port), '--db', join(dir, 'second', 'db.sqlite')])
      expect(second.exitCode).toBe(2)
      expect(second.stderr).toBe(`iceprod-rest: cannot listen on 127.0.0.1:${port}: the port is already in use by another process\n`)
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
    } finally {
      server.kill('SIGTERM')
    }
    expect(await server.exited).toBe(0)
  })
})
