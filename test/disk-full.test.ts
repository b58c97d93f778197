/**
 * A full disk, for real: the server process keeps its database on a small
 * tmpfs that the test fills. Writes are refused with 507 and change nothing,
 * reads go on, /healthz and /metrics say why, and once space is freed writes
 * succeed again in the same process. Every acknowledged write survives, and
 * the database stays intact, also when the server is stopped while full.
 *
 * Mounting needs root (CI runs as root); without it the test fails saying so.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jsonCaller, startServerProcess, type ServerProcess } from './server-process'

const PROCESS_TIMEOUT_MS = 90_000
const TMPFS_SIZE = '16m'

const mountPoint = mkdtempSync(join(tmpdir(), 'iceprod-disk-full-'))
const db = join(mountPoint, 'iceprod.sqlite')
const filler = join(mountPoint, 'filler')
let mounted = false
const servers: ServerProcess[] = []

beforeAll(() => {
  const r = Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'tmpfs', mountPoint], { stderr: 'pipe' })
  if (r.exitCode !== 0) {
    throw new Error(`this test mounts a ${TMPFS_SIZE} tmpfs at ${mountPoint} to fill it, which needs root (CI runs as root): mount said: ${r.stderr.toString().trim()}`)
  }
  mounted = true
})

afterAll(async () => {
  for (const server of servers) {
    if (server.proc.exitCode === null) server.proc.kill('SIGKILL')
    await server.proc.exited
  }
  if (mounted) {
    const r = Bun.spawnSync(['umount', mountPoint], { stderr: 'pipe' })
    // Busy (a process still has a file open there): detach it now, it goes once released.
    if (r.exitCode !== 0) Bun.spawnSync(['umount', '-l', mountPoint])
  }
  rmdirSync(mountPoint)
})

async function start(): Promise<{ server: ServerProcess; call: ReturnType<typeof jsonCaller> }> {
  const server = await startServerProcess(db)
  servers.push(server)
  return { server, call: jsonCaller(server.url, await server.token('admin')) }
}

async function stop(server: ServerProcess): Promise<number | null> {
  server.proc.kill('SIGTERM')
  return server.proc.exited
}

/** Fills the filesystem with `filler` until not one more 4 KiB block fits. */
function fillDisk(): void {
  const fd = openSync(filler, 'a')
  try {
    for (const size of [1024 * 1024, 64 * 1024, 4096, 512]) {
      const chunk = Buffer.alloc(size, 1)
      for (;;) {
        try {
          writeSync(fd, chunk)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
          break
        }
      }
    }
  } finally {
    closeSync(fd)
  }
}

/** Incompressible log text, so that each log takes its size on disk. */
const noise = (bytes: number) => randomBytes((bytes * 3) / 4).toString('base64')

async function metric(server: ServerProcess, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${server.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.split(' ')[1])
}

/** Posts 64 KB logs until one is refused; returns the acknowledged ones (name → id) and the refusal. */
async function writeUntilRefused(call: Awaited<ReturnType<typeof start>>['call'], acknowledged: Map<string, { id: string; bytes: number }>, prefix: string) {
  for (let i = 0; i < 400; i++) {
    const name = `${prefix}-${i}`
    const data = noise(64 * 1024)
    const r = await call('POST', '/logs', { name, data })
    if (r.status === 201) acknowledged.set(name, { id: r.body.result, bytes: data.length })
    else return { name, ...r }
  }
  throw new Error('no write was refused on a full disk')
}

test('a full disk refuses writes with 507, keeps reads, says so in /healthz and /metrics, and writes again once space is freed', async () => {
  const acknowledged = new Map<string, { id: string; bytes: number }>()
  const { server, call } = await start()
  expect((await call('POST', '/groups', { name: '/before-full' })).status).toBe(201)
  for (let i = 0; i < 5; i++) {
    const data = noise(64 * 1024)
    const r = await call('POST', '/logs', { name: `before-${i}`, data })
    expect(r.status).toBe(201)
    acknowledged.set(`before-${i}`, { id: r.body.result, bytes: data.length })
  }
  expect(await metric(server, 'iceprod_database_disk_full')).toBe(0)
  const freeBefore = await metric(server, 'iceprod_database_filesystem_free_bytes')
  expect(freeBefore).toBeGreaterThan(8 * 1024 * 1024)

  fillDisk()
  const refused = await writeUntilRefused(call, acknowledged, 'while-full')
  expect(refused).toMatchObject({ status: 507, body: { code: 507, error: expect.stringContaining("the database's disk is full") } })
  // Still full: the same write is refused again, and so is another route's.
  expect((await call('POST', '/logs', { name: refused.name, data: noise(64 * 1024) })).status).toBe(507)

  // Reads go on.
  const first = acknowledged.get('before-0')!
  const read = await call('GET', `/logs/${first.id}`)
  expect(read.status).toBe(200)
  expect(read.body.data.length).toBe(first.bytes)
  expect((await call('GET', '/groups')).body.results.map((g: { name: string }) => g.name)).toContain('/before-full')

  // The health check and the metrics say why.
  const health = await fetch(`${server.url}/healthz`)
  expect(health.status).toBe(503)
  expect(await health.json()).toEqual({ code: 503, error: expect.stringContaining('disk full') })
  expect(await metric(server, 'iceprod_database_disk_full')).toBe(1)
  expect(await metric(server, 'iceprod_database_filesystem_free_bytes')).toBeLessThan(64 * 1024)

  // Space is freed: the same process recovers, first in its health check (before any write), then in writes.
  rmSync(filler)
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
  expect(await metric(server, 'iceprod_database_disk_full')).toBe(0)
  const again = noise(64 * 1024)
  const retried = await call('POST', '/logs', { name: refused.name, data: again })
  expect(retried.status).toBe(201)
  acknowledged.set(refused.name, { id: retried.body.result, bytes: again.length })
  expect((await call('POST', '/groups', { name: '/after-full' })).status).toBe(201)
  expect(await stop(server)).toBe(0)

  // Every acknowledged write is there, nothing refused is, and the file is intact.
  const sqlite = new Database(db, { readonly: true })
  try {
    expect(sqlite.query('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }])
    const stored = new Map((sqlite.query("SELECT json_extract(doc, '$.name') AS name, log_id AS id FROM logs").all() as { name: string; id: string }[]).map((r) => [r.name, r.id]))
    expect(stored).toEqual(new Map([...acknowledged].map(([name, { id }]) => [name, id])))
  } finally {
    sqlite.close()
  }
}, PROCESS_TIMEOUT_MS)

test('a server stopped while its disk is full exits cleanly and loses nothing acknowledged', async () => {
  const acknowledged = new Map<string, { id: string; bytes: number }>()
  const { server, call } = await start()
  // Written at once, before the checkpoint worker starts: they are in the WAL only, and the
  // checkpoint at the stop would have to grow the main file by their pages.
  for (let i = 0; i < 5; i++) {
    const data = noise(64 * 1024)
    const r = await call('POST', '/logs', { name: `stopped-before-${i}`, data })
    expect(r.status).toBe(201)
    acknowledged.set(`stopped-before-${i}`, { id: r.body.result, bytes: data.length })
  }
  fillDisk()
  const refused = await writeUntilRefused(call, acknowledged, 'stopped-full')
  expect(refused.status).toBe(507)
  expect(await stop(server)).toBe(0)
  rmSync(filler)

  const reopened = await start()
  try {
    for (const [name, { id, bytes }] of acknowledged) {
      const r = await reopened.call('GET', `/logs/${id}`)
      expect({ name, status: r.status, bytes: r.body?.data?.length }).toEqual({ name, status: 200, bytes })
    }
    expect((await reopened.call('POST', '/groups', { name: '/after-restart' })).status).toBe(201)
  } finally {
    expect(await stop(reopened.server)).toBe(0)
  }
  const sqlite = new Database(db, { readonly: true })
  try {
    expect(sqlite.query('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }])
  } finally {
    sqlite.close()
  }
}, PROCESS_TIMEOUT_MS)
