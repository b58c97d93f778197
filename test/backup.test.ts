/**
 * `iceprod-rest backup` and `restore`, run as the real CLI against a real
 * database that an in-process app keeps open (and writes to) as a running
 * server would.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { newId, timestamp } from '../src/db/documents'
import { restoreDatabase } from '../src/ops/backup'
import { builtBinary } from './binary'
import { runCli, startServerProcess } from './server-process'
import { TEST_SECRET, startTestApp, type TestApp } from './support'

/** Tests here start real processes: allow for a slow, busy machine whatever the default timeout. */
const PROCESS_TIMEOUT_MS = 60_000

const env = { ...process.env, ICEPROD_JWT_SECRET: TEST_SECRET }
const dir = mkdtempSync(join(tmpdir(), 'iceprod-backup-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cli = (...args: string[]) => runCli(args, env)

/** The server as a child process on a free loopback port, stopped with SIGTERM like systemd does. */
async function startServe(db: string) {
  const server = await startServerProcess(db, { ICEPROD_LOG_LEVEL: 'silent' })
  return {
    url: server.url,
    async stop() {
      server.proc.kill('SIGTERM')
      expect(await server.proc.exited).toBe(0)
    },
  }
}

const rowCount = (db: Database, table: string) => (db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n

/** What `read` finds in the database file at `path`, opened read-only for it alone. */
function inDatabase<T>(path: string, read: (db: Database) => T): T {
  const db = new Database(path, { readonly: true })
  try {
    return read(db)
  } finally {
    db.close()
  }
}

let t: TestApp
let datasetId: string
let jobId: string
beforeAll(async () => {
  t = await startTestApp({ logLevel: 'silent' })
  expect((await t.call('POST', '/groups', { body: { name: '/backup' } })).status).toBe(201)
  const dataset = await t.call('POST', '/datasets', { body: { description: 'b', jobs_submitted: 1, tasks_submitted: 100000, group: '/backup' } })
  datasetId = (dataset.body.result as string).split('/').pop()!
  jobId = (await t.call('POST', '/jobs', { body: { dataset_id: datasetId, job_index: 0 } })).body.result
  // Enough data that copying it takes a while, so the writes below overlap the backup: logs as the app stores
  // a text it does not compress, written straight into its database.
  const noise = () => Buffer.from(Buffer.from(crypto.getRandomValues(new Uint8Array(140_000))).toString('base64'))
  const insert = t.ctx.sqlite.prepare("INSERT INTO logs (log_id, encoding, data, doc) VALUES (?, 'identity', ?, ?)")
  t.ctx.sqlite.transaction(() => {
    for (let i = 0; i < 40; i++) {
      const logId = newId()
      insert.run(logId, noise(), JSON.stringify({ name: `seed-${i}`, log_id: logId, timestamp: timestamp() }))
    }
  })()
  insert.finalize()
}, PROCESS_TIMEOUT_MS)
afterAll(() => t.close())

describe('backup', () => {
  test('copies a consistent snapshot while the app keeps writing', async () => {
    const target = join(dir, 'under-load.sqlite')
    const binary = resolve(await builtBinary())
    let written = 0
    let failed = 0
    let running = true
    // Writes through the app, one acknowledged commit after another: a group, then a task
    // whose insert moves task_counts in the same transaction (through a trigger).
    const load = (async () => {
      while (running) {
        const group = await t.call('POST', '/groups', { body: { name: `/load/${written}` } })
        const task = await t.call('POST', '/tasks', {
          body: { dataset_id: datasetId, job_id: jobId, task_index: written, name: 'load', depends: [], requirements: {} },
        })
        if (group.status !== 201 || task.status !== 201) failed++
        written++
      }
    })()
    while (written < 5) await Bun.sleep(1)
    const writtenBeforeStart = written
    const backup = Bun.spawn([binary, 'backup', target, '--db', t.config.db], { env, stdout: 'pipe', stderr: 'pipe' })
    const code = await backup.exited
    const writtenAtEnd = written
    running = false
    await load
    expect({ code, stderr: await new Response(backup.stderr).text() }).toEqual({ code: 0, stderr: '' })
    expect(await new Response(backup.stdout).text()).toContain(`backed up ${t.config.db} to ${target}`)
    expect(failed).toBe(0)

    expect(statSync(target).mode & 0o777).toBe(0o600)
    const copy = new Database(target, { readonly: true })
    try {
      expect(copy.query('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }])
      // The copy is one moment of the database: the load's commits up to some point, and none after it.
      const groups = (copy.query("SELECT json_extract(doc, '$.name') AS name FROM groups WHERE name LIKE '/load/%'").all() as { name: string }[]).map((g) => g.name)
      const k = groups.length
      expect(new Set(groups)).toEqual(new Set(Array.from({ length: k }, (_, i) => `/load/${i}`)))
      const indexes = (copy.query('SELECT task_index FROM tasks WHERE dataset_id = ? ORDER BY task_index').all(datasetId) as { task_index: number }[]).map((r) => r.task_index)
      expect(indexes).toEqual(Array.from({ length: indexes.length }, (_, i) => i))
      // A task is written after its group, so the snapshot has the same number or one group more.
      expect(k - indexes.length).toBeOneOf([0, 1])
      // Trigger-maintained counts agree with the rows they count.
      const counted = copy.query('SELECT coalesce(sum(n), 0) AS n FROM task_counts WHERE dataset_id = ?').get(datasetId) as { n: number }
      expect(counted.n).toBe(indexes.length)
      // The writes went on during the backup: the snapshot lies strictly inside the backup's run.
      expect(k).toBeGreaterThan(writtenBeforeStart)
      expect(k).toBeLessThan(writtenAtEnd)
      expect(rowCount(copy, 'logs')).toBe(40)
    } finally {
      copy.close()
    }
    // The live database is untouched and still serves.
    expect((await t.call('GET', '/healthz', { token: null })).status).toBe(200)
    expect(t.count('groups')).toBeGreaterThanOrEqual(writtenAtEnd)
  }, PROCESS_TIMEOUT_MS)

  test('never overwrites an existing file', async () => {
    const target = join(dir, 'existing.sqlite')
    writeFileSync(target, 'keep me')
    const r = await cli('backup', target, '--db', t.config.db)
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('already exists')])
    expect(readFileSync(target, 'utf8')).toBe('keep me')
  }, PROCESS_TIMEOUT_MS)

  test('fails with one line when there is no database, and leaves no file behind', async () => {
    const target = join(dir, 'of-nothing.sqlite')
    const r = await cli('backup', target, '--db', join(dir, 'missing', 'iceprod.sqlite'))
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('no database at')])
    expect(existsSync(target)).toBe(false)
  }, PROCESS_TIMEOUT_MS)
})

/** A backup of the app's database, made with the CLI once for the restore tests, which read it (or a copy of it) only. */
let appBackup: Promise<string> | undefined
const backupOfApp = () =>
  (appBackup ??= (async () => {
    const backup = join(dir, 'of-the-app.sqlite')
    expect((await cli('backup', backup, '--db', t.config.db)).code).toBe(0)
    return backup
  })())

describe('restore', () => {
  test('refuses while the database is open, and changes nothing', async () => {
    const backup = await backupOfApp()
    expect((await t.call('POST', '/groups', { body: { name: '/after-backup' } })).status).toBe(201)
    const r = await cli('restore', backup, '--db', t.config.db)
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('is in use; stop the server first')])
    const names = (await t.call('GET', '/groups')).body.results.map((g: { name: string }) => g.name)
    expect(names).toContain('/after-backup')
    expect((await t.call('POST', '/groups', { body: { name: '/still-writable' } })).status).toBe(201)
  }, PROCESS_TIMEOUT_MS)

  test('replaces a stopped database with the backup and keeps the replaced one', async () => {
    const liveDir = mkdtempSync(join(dir, 'live-'))
    const db = join(liveDir, 'iceprod.sqlite')
    // The token is printed while the server starts.
    const [minted, first] = await Promise.all([cli('token', '--username', 'admin', '--role', 'admin', '--db', db), startServe(db)])
    const admin = minted.stdout.trim()
    const post = (url: string, name: string) =>
      fetch(`${url}/groups`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name }) })
    const names = async (url: string) =>
      ((await (await fetch(`${url}/groups`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { results: { name: string }[] }).results.map((g) => g.name)

    expect((await post(first.url, '/in-backup')).status).toBe(201)
    const backup = join(liveDir, 'snapshot.sqlite')
    expect((await cli('backup', backup, '--db', db)).code).toBe(0)
    expect((await post(first.url, '/after-snapshot')).status).toBe(201)
    await first.stop()

    const r = await cli('restore', backup, '--db', db)
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    const previous = /kept as (\S+)$/m.exec(r.stdout)?.[1]
    expect(previous).toStartWith(`${db}.before-restore-`)

    const second = await startServe(db)
    try {
      expect(await names(second.url)).toEqual(['/in-backup'])
      // The restored database takes writes again.
      expect((await post(second.url, '/after-restore')).status).toBe(201)
    } finally {
      await second.stop()
    }
    const kept = new Database(previous!, { readonly: true })
    try {
      expect((kept.query("SELECT json_extract(doc, '$.name') AS name FROM groups ORDER BY rowid").all() as { name: string }[]).map((g) => g.name)).toEqual(['/in-backup', '/after-snapshot'])
    } finally {
      kept.close()
    }
  }, PROCESS_TIMEOUT_MS)

  test('restores into a new place', async () => {
    const backup = await backupOfApp()
    const fresh = join(dir, 'fresh', 'deeper', 'iceprod.sqlite')
    const r = await cli('restore', backup, '--db', fresh)
    expect(r.code).toBe(0)
    expect(r.stdout).not.toContain('kept as')
    const db = new Database(fresh, { readonly: true })
    try {
      expect(db.query('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }])
      expect(rowCount(db, 'logs')).toBe(40)
    } finally {
      db.close()
    }
  }, PROCESS_TIMEOUT_MS)

  test('refuses what is not an intact iceprod-rest database, and leaves the target alone', async () => {
    const target = join(dir, 'target', 'iceprod.sqlite')
    expect((await cli('migrate', '--db', target)).code).toBe(0)
    const before = readFileSync(target)
    const garbage = join(dir, 'garbage.sqlite')
    writeFileSync(garbage, 'this is not a database, just text long enough to have a header.'.repeat(100))
    const foreign = join(dir, 'foreign.sqlite')
    const other = new Database(foreign)
    other.exec('CREATE TABLE notes (x)')
    other.close()
    const cases = [
      [garbage, 'is not a usable SQLite database'],
      [foreign, 'is not an iceprod-rest database'],
      [join(dir, 'absent.sqlite'), 'no backup at'],
    ] as const
    const results = await Promise.all(cases.map(([backup]) => cli('restore', backup, '--db', target)))
    for (const [index, [backup, reason]] of cases.entries()) {
      const r = results[index]!
      expect({ backup, code: r.code === 0 ? 0 : 'failed', stderr: r.stderr.trim().split('\n') }).toEqual({ backup, code: 'failed', stderr: [expect.stringContaining(reason)] })
    }
    expect(readFileSync(target).equals(before)).toBe(true)
  }, PROCESS_TIMEOUT_MS)

  /** A proper backup switched to WAL mode and copied by hand with its `-wal`, which alone holds `rows` rows of the table `extra`. */
  async function handCopiedWithLog(name: string, rows: number): Promise<string> {
    const backup = join(dir, `${name}-source.sqlite`)
    copyFileSync(await backupOfApp(), backup)
    const live = new Database(backup)
    try {
      live.exec('PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE extra (x); PRAGMA wal_checkpoint(TRUNCATE)')
      for (let i = 0; i < rows; i++) live.run('INSERT INTO extra VALUES (?)', [i])
      const copy = join(dir, `${name}.sqlite`)
      for (const side of ['', '-wal']) copyFileSync(backup + side, copy + side)
      return copy
    } finally {
      live.close()
    }
  }

  test('refuses a backup whose write-ahead log beside it holds writes, and changes nothing', async () => {
    const copy = await handCopiedWithLog('with-log', 100)
    expect(statSync(`${copy}-wal`).size).toBeGreaterThan(0)
    const place = mkdtempSync(join(dir, 'wal-target-'))
    const target = join(place, 'iceprod.sqlite')
    expect((await cli('migrate', '--db', target)).code).toBe(0)
    const before = readFileSync(target)
    const listed = readdirSync(place).sort()
    const r = await cli('restore', copy, '--db', target)
    expect({ code: r.code === 0 ? 0 : 'failed', stderr: r.stderr.trim().split('\n') }).toEqual({
      code: 'failed',
      stderr: [expect.stringMatching(new RegExp(`${copy}-wal .*iceprod-rest backup`))],
    })
    expect(readFileSync(target).equals(before)).toBe(true)
    expect(readdirSync(place).sort()).toEqual(listed)
  }, PROCESS_TIMEOUT_MS)

  test('restores a WAL-mode backup whose log is empty, checked as the copy restored, leaving no other file', async () => {
    const copy = await handCopiedWithLog('empty-log', 0)
    writeFileSync(`${copy}-wal`, '')
    const place = mkdtempSync(join(dir, 'wal-empty-'))
    const target = join(place, 'iceprod.sqlite')
    const r = await cli('restore', copy, '--db', target)
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    expect(readdirSync(place)).toEqual(['iceprod.sqlite'])
    expect(inDatabase(target, (db) => [db.query('PRAGMA integrity_check').all(), rowCount(db, 'extra'), rowCount(db, 'logs')])).toEqual([[{ integrity_check: 'ok' }], 0, 40])
  }, PROCESS_TIMEOUT_MS)

  test('a restore removes the staged copies of restores that were killed, and keeps those of restores still running', async () => {
    const backup = await backupOfApp()
    const place = mkdtempSync(join(dir, 'abandoned-'))
    const db = join(place, 'iceprod.sqlite')
    // A process that has ended: its pid names no running process (or one reused since, which would keep its folder).
    const ended = Bun.spawnSync(['true']).pid
    const stagings = { killed: `iceprod.sqlite.restoring-${ended}-a1B2c3`, running: `iceprod.sqlite.restoring-${process.pid}-d4E5f6`, unnamed: 'iceprod.sqlite.restoring-g7H8i9' }
    for (const folder of Object.values(stagings)) {
      mkdirSync(join(place, folder))
      writeFileSync(join(place, folder, 'restored.sqlite'), 'partial copy')
    }
    const other = `other.sqlite.restoring-${ended}-j0K1l2`
    mkdirSync(join(place, other))
    restoreDatabase(backup, db)
    expect(readdirSync(place).sort()).toEqual(['iceprod.sqlite', other, stagings.running].sort())
  }, PROCESS_TIMEOUT_MS)

  test('two restores in the same second each keep the database they replace, under names of their own', async () => {
    const backup = await backupOfApp()
    const place = mkdtempSync(join(dir, 'same-second-'))
    const db = join(place, 'iceprod.sqlite')
    expect((await cli('migrate', '--db', db)).code).toBe(0)
    const now = new Date('2026-03-01T12:00:00.250Z')
    const first = restoreDatabase(backup, db, now).previous!
    const second = restoreDatabase(backup, db, new Date(now.getTime() + 500)).previous!
    expect(first).toBe(`${db}.before-restore-20260301T120000`)
    expect(second).toBe(`${db}.before-restore-20260301T120000-2`)
    // The first kept the new database (no logs), the second the first restore's (the backup's 40).
    const logsIn = (path: string) => inDatabase(path, (kept) => rowCount(kept, 'logs'))
    expect([logsIn(first), logsIn(second), logsIn(db)]).toEqual([0, 40, 40])
  }, PROCESS_TIMEOUT_MS)
})
