/**
 * Backup and restore against a running server process: `iceprod-rest backup`
 * while several clients write to the server over HTTP gives one consistent
 * moment of the database, and `restore` onto the database that server holds
 * is refused and changes nothing.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newId, timestamp } from '../src/db/documents'
import { jsonCaller, runCli, startServerProcess, type ServerProcess } from './server-process'
import { TEST_SECRET, copyMigratedDatabase } from './support'

/** Tests here start real processes: allow for a slow, busy machine whatever the default timeout. */
const PROCESS_TIMEOUT_MS = 90_000
/** Concurrent clients writing through the backup. */
const CLIENTS = 4

const env = { ...process.env, ICEPROD_JWT_SECRET: TEST_SECRET }
const dir = mkdtempSync(join(tmpdir(), 'iceprod-backup-live-'))
const db = join(dir, 'iceprod.sqlite')

const cli = (...args: string[]) => runCli(args, env)

let server: ServerProcess
let datasetId: string
let jobId: string

let call: ReturnType<typeof jsonCaller>

beforeAll(async () => {
  // A copy of the migrated database: creating and migrating one is the end-to-end test's.
  copyMigratedDatabase(db)
  server = await startServerProcess(db)
  call = jsonCaller(server.url, await server.token('admin'))
  expect((await call('POST', '/groups', { name: '/backup' })).status).toBe(201)
  const dataset = await call('POST', '/datasets', { description: 'b', jobs_submitted: 1, tasks_submitted: 1_000_000, group: '/backup' })
  datasetId = (dataset.body.result as string).split('/').pop()!
  jobId = (await call('POST', '/jobs', { dataset_id: datasetId, job_index: 0 })).body.result
  // Enough data (some MB) that copying it takes a while, so the writes below overlap the backup: logs as the
  // server stores a text it does not compress, written into its database on a connection of their own.
  const seed = new Database(db)
  try {
    const insert = seed.prepare("INSERT INTO logs (log_id, encoding, data, doc) VALUES (?, 'identity', ?, ?)")
    seed.transaction(() => {
      for (let i = 0; i < 40; i++) {
        const logId = newId()
        insert.run(logId, Buffer.from(randomBytes(120_000).toString('base64')), JSON.stringify({ name: `seed-${i}`, log_id: logId, timestamp: timestamp() }))
      }
    })()
  } finally {
    seed.close()
  }
}, PROCESS_TIMEOUT_MS)

afterAll(async () => {
  server?.proc.kill('SIGTERM')
  await server?.proc.exited
  rmSync(dir, { recursive: true, force: true })
})

const rows = <T>(copy: Database, sql: string, ...values: string[]) => copy.query(sql).all(...values) as T[]

describe('backup of a running server under write load', () => {
  test('is one consistent moment: intact, and holding every write acknowledged before it began and none sent after it ended', async () => {
    const target = join(dir, 'under-load.sqlite')
    // Each client writes one acknowledged commit after another: a group, then a task whose
    // insert moves task_counts in the same transaction (through a trigger).
    const acknowledged = new Array<number>(CLIENTS).fill(0)
    const sent = new Array<number>(CLIENTS).fill(0)
    const refusals: string[] = []
    let running = true
    const client = async (c: number) => {
      for (let i = 0; running; i++) {
        sent[c]! += 2
        const group = await call('POST', '/groups', { name: `/load/${c}/${i}` })
        const task = await call('POST', '/tasks', {
          dataset_id: datasetId, job_id: jobId, task_index: c * 1_000_000 + i, name: `load-${c}`, depends: [], requirements: {},
        })
        if (group.status !== 201 || task.status !== 201) refusals.push(`${group.status} ${task.status}`)
        else acknowledged[c]! += 2
      }
    }
    // A reader holding an old snapshot (a report, another backup) keeps checkpoints from
    // moving the load's commits into the main file: the copy must take them from the WAL.
    const reader = new Database(db, { readonly: true })
    reader.exec('BEGIN')
    reader.query('SELECT count(*) FROM groups').get()
    const load = Array.from({ length: CLIENTS }, (_, c) => client(c))
    const total = (counts: number[]) => counts.reduce((a, b) => a + b, 0)
    while (total(acknowledged) < 20) await Bun.sleep(1)
    const acknowledgedBefore = [...acknowledged]
    let backup: Awaited<ReturnType<typeof cli>>
    try {
      backup = await cli('backup', target, '--db', db)
    } finally {
      reader.exec('COMMIT')
      reader.close()
    }
    const sentByEnd = [...sent]
    const acknowledgedAtEnd = total(acknowledged)
    running = false
    await Promise.all(load)

    expect({ code: backup.code, stderr: backup.stderr }).toEqual({ code: 0, stderr: '' })
    expect(backup.stdout).toContain(`backed up ${db} to ${target}`)
    expect(refusals).toEqual([])
    // The writes went on through the backup.
    expect(acknowledgedAtEnd).toBeGreaterThan(total(acknowledgedBefore) + CLIENTS)

    const copy = new Database(target, { readonly: true })
    try {
      expect(copy.query('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }])
      expect(copy.query('PRAGMA foreign_key_check').all()).toEqual([])
      for (let c = 0; c < CLIENTS; c++) {
        const groups = rows<{ name: string }>(copy, "SELECT json_extract(doc, '$.name') AS name FROM groups WHERE name LIKE ?", `/load/${c}/%`).map((g) => g.name)
        const indexes = rows<{ i: number }>(copy, 'SELECT task_index - ? AS i FROM tasks WHERE dataset_id = ? AND name = ? ORDER BY task_index', String(c * 1_000_000), datasetId, `load-${c}`).map((r) => r.i)
        // One moment of each client's sequence of commits: a prefix of it, with nothing missing in between...
        expect(new Set(groups)).toEqual(new Set(Array.from({ length: groups.length }, (_, i) => `/load/${c}/${i}`)))
        expect(indexes).toEqual(Array.from({ length: indexes.length }, (_, i) => i))
        // ...where a task is written after its group: the same number, or one group more.
        expect(groups.length - indexes.length).toBeOneOf([0, 1])
        const written = groups.length + indexes.length
        expect(written).toBeGreaterThanOrEqual(acknowledgedBefore[c]!)
        expect(written).toBeLessThanOrEqual(sentByEnd[c]!)
      }
      // Trigger-maintained counts agree with the rows they count.
      const counted = copy.query('SELECT coalesce(sum(n), 0) AS n FROM task_counts WHERE dataset_id = ?').get(datasetId) as { n: number }
      const tasks = copy.query('SELECT count(*) AS n FROM tasks WHERE dataset_id = ?').get(datasetId) as { n: number }
      expect(counted.n).toBe(tasks.n)
      expect((copy.query('SELECT count(*) AS n FROM logs').get() as { n: number }).n).toBe(40)
    } finally {
      copy.close()
    }
    // The server kept serving.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
  }, PROCESS_TIMEOUT_MS)
})

describe('restore onto the database of a running server', () => {
  test('is refused with a clear message, idle or under writes, and changes nothing', async () => {
    const backup = join(dir, 'for-refusal.sqlite')
    expect((await cli('backup', backup, '--db', db)).code).toBe(0)
    expect((await call('POST', '/groups', { name: '/after-backup' })).status).toBe(201)

    const idle = await cli('restore', backup, '--db', db)
    let running = true
    let written = 0
    const load = (async () => {
      while (running) if ((await call('POST', '/groups', { name: `/during-restore/${written}` })).status === 201) written++
    })()
    while (written < 5) await Bun.sleep(1)
    const loaded = await cli('restore', backup, '--db', db)
    running = false
    await load

    for (const r of [idle, loaded]) {
      expect(r.code).not.toBe(0)
      expect(r.stdout).toBe('')
      expect(r.stderr.trim().split('\n')).toEqual([`iceprod-rest: ${db} is in use; stop the server first`])
    }
    // Nothing was moved, staged or replaced beside it.
    expect(readdirSync(dir).filter((f) => f.includes('.before-restore-') || f.endsWith('.restoring'))).toEqual([])
    expect(existsSync(db)).toBe(true)
    // The server still has its own database, with the writes made after the backup, and still writes.
    const names = ((await call('GET', '/groups')).body.results as { name: string }[]).map((g) => g.name)
    expect(names).toContain('/after-backup')
    expect(names.filter((n) => n.startsWith('/during-restore/')).length).toBe(written)
    expect((await call('POST', '/groups', { name: '/still-writable' })).status).toBe(201)
  }, PROCESS_TIMEOUT_MS)
})
