import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync } from 'node:fs'
import { embeddedMigrations } from '../src/db/migrator'
import { journal } from '../src/db/migrations.gen'
import { startTestApp, type TestApp } from './support'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(() => t.close())

describe('database', () => {
  test('every migration file is embedded in the program', () => {
    const files = readdirSync('migrations').filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort()
    expect(journal.entries.map((e) => e.tag).sort()).toEqual(files)
    expect(embeddedMigrations()).toHaveLength(files.length)
  })

  test('runs in WAL mode with foreign keys, and never waits for a lock inside SQLite', () => {
    const q = (sql: string) => Object.values(t.ctx.sqlite.query(sql).get() as object)[0]
    expect(q('PRAGMA journal_mode')).toBe('wal')
    expect(q('PRAGMA foreign_keys')).toBe(1)
    // Writes wait for the write lock on timers (db/write-lock.ts), not in a blocking busy handler.
    expect(Number(q('PRAGMA busy_timeout'))).toBe(0)
  })

  test('status counts follow every insert, update and delete of a task', () => {
    const db = t.ctx.sqlite
    const counts = () => db.query("SELECT status, n FROM task_counts WHERE dataset_id = 'dcount' AND n > 0 ORDER BY status").all()
    db.run(`INSERT INTO tasks (task_id, doc) VALUES ('c1', '{"task_id":"c1","dataset_id":"dcount","status":"waiting"}'), ('c2', '{"task_id":"c2","dataset_id":"dcount","status":"waiting"}')`)
    expect(counts()).toEqual([{ status: 'waiting', n: 2 }])
    db.run(`UPDATE tasks SET doc = json_set(doc, '$.status', 'queued') WHERE task_id = 'c1'`)
    expect(counts()).toEqual([{ status: 'queued', n: 1 }, { status: 'waiting', n: 1 }])
    db.run(`DELETE FROM tasks WHERE task_id = 'c2'`)
    expect(counts()).toEqual([{ status: 'queued', n: 1 }])
  })

  test('task_depends mirrors the depends list of a task document', () => {
    const db = t.ctx.sqlite
    const deps = () => db.query("SELECT depends_on FROM task_depends WHERE task_id = 'dep1' ORDER BY depends_on").all()
    db.run(`INSERT INTO tasks (task_id, doc) VALUES ('dep1', '{"task_id":"dep1","dataset_id":"d","status":"waiting","depends":["a","b"]}')`)
    expect(deps()).toEqual([{ depends_on: 'a' }, { depends_on: 'b' }])
    db.run(`UPDATE tasks SET doc = json_set(doc, '$.depends', json('["c"]')) WHERE task_id = 'dep1'`)
    expect(deps()).toEqual([{ depends_on: 'c' }])
    db.run(`DELETE FROM tasks WHERE task_id = 'dep1'`)
    expect(deps()).toEqual([])
  })
})
