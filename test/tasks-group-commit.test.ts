import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { fail } from '../src/errors'
import { unavailability } from '../src/db/faults'
import { GroupCommit } from '../src/db/group-commit'
import { QueueFixture } from './queue-support'
import { startTestApp, type TestApp } from './support'

let t: TestApp
/** A second connection to the same file: it sees committed rows only. */
let observer: Database
beforeAll(async () => {
  t = await startTestApp()
  observer = new Database(join(t.dir, 'iceprod.sqlite'), { readonly: true })
})
afterAll(() => {
  observer.close()
  t.close()
})

const committed = (prefix: string) => (observer.query('SELECT count(*) AS n FROM sequences WHERE name LIKE ?').get(`${prefix}%`) as { n: number }).n
const rows = (prefix: string) => (t.ctx.sqlite.query('SELECT name FROM sequences WHERE name LIKE ? ORDER BY name').all(`${prefix}%`) as { name: string }[]).map((r) => r.name)

interface Probe {
  name: string
  /** Fail after writing (needs the savepoint to be undone) or before (refused without a write). */
  fail?: 'after' | 'before'
}

function committer(prefix: string, singleStatement: boolean, seenDuringWrites: number[]) {
  return new GroupCommit<Probe, string>(
    t.ctx.db,
    (probe) => {
      seenDuringWrites.push(committed(prefix))
      if (probe.fail === 'before') fail(400, `refused ${probe.name}`)
      t.ctx.sqlite.run('INSERT INTO sequences (name, value) VALUES (?, 0)', [prefix + probe.name])
      if (probe.fail === 'after') throw new Error(`failed after writing ${probe.name}`)
      return probe.name
    },
    { singleStatement },
  )
}

describe('GroupCommit', () => {
  test('writes requested together share one transaction, and each caller is answered after the commit', async () => {
    const seen: number[] = []
    const group = committer('gc-a-', true, seen)
    const results = await Promise.all(['1', '2', '3', '4', '5'].map((name) => group.run({ name })))
    expect(results).toEqual(['1', '2', '3', '4', '5'])
    // No write of the batch was visible to another connection while the batch ran.
    expect(seen).toEqual([0, 0, 0, 0, 0])
    expect(committed('gc-a-')).toBe(5)
  })

  test('a refused write fails alone, the others commit', async () => {
    const group = committer('gc-b-', true, [])
    const outcomes = await Promise.allSettled([group.run({ name: '1' }), group.run({ name: '2', fail: 'before' }), group.run({ name: '3' })])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason.message).toBe('refused 2')
    expect(rows('gc-b-')).toEqual(['gc-b-1', 'gc-b-3'])
  })

  test('with savepoints, a write that fails after writing is undone alone', async () => {
    const group = committer('gc-c-', false, [])
    const outcomes = await Promise.allSettled([group.run({ name: '1' }), group.run({ name: '2', fail: 'after' }), group.run({ name: '3' })])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(rows('gc-c-')).toEqual(['gc-c-1', 'gc-c-3'])
  })

  test('writes requested later start a new transaction', async () => {
    const seen: number[] = []
    const group = committer('gc-d-', true, seen)
    await group.run({ name: '1' })
    await group.run({ name: '2' })
    expect(seen).toEqual([0, 1])
  })

  test('a batch that cannot begin rejects every caller of the batch and writes nothing', async () => {
    const locked = await startTestApp({ lockTimeoutMs: 0 })
    try {
      const group = new GroupCommit<string, string>(locked.ctx.db, (name) => {
        locked.ctx.sqlite.run('INSERT INTO sequences (name, value) VALUES (?, 0)', [name])
        return name
      })
      // Another connection holds the write lock, and this app's writes may not wait for it.
      const blocker = new Database(locked.config.db)
      blocker.exec('BEGIN IMMEDIATE')
      try {
        const outcomes = await Promise.allSettled([group.run('gc-e-1'), group.run('gc-e-2')])
        expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected'])
      } finally {
        blocker.exec('ROLLBACK')
        blocker.close()
      }
      expect(locked.ctx.sqlite.query("SELECT count(*) AS n FROM sequences WHERE name LIKE 'gc-e-%'").get()).toEqual({ n: 0 })
    } finally {
      locked.close()
    }
  })
})

describe('a batch SQLite rolls back by itself (a full disk)', () => {
  /** Room for a few more pages only: a small write fits, a large one does not, and SQLite then ends the whole transaction. */
  const tighten = (app: TestApp) => {
    const { page_count } = app.ctx.sqlite.query('PRAGMA page_count').get() as { page_count: number }
    app.ctx.sqlite.exec(`PRAGMA max_page_count = ${page_count + 8}`)
  }
  const loosen = (app: TestApp) => app.ctx.sqlite.exec('PRAGMA max_page_count = 4294967294')

  for (const singleStatement of [true, false]) {
    test(`fails every write of the batch with the disk's error and writes none of them (${singleStatement ? 'one statement each' : 'savepoints'})`, async () => {
      const prefix = `gc-full-${singleStatement}-`
      const group = new GroupCommit<string, string>(
        t.ctx.db,
        (name) => {
          t.ctx.sqlite.run('INSERT INTO sequences (name, value) VALUES (?, 0)', [prefix + name])
          return name
        },
        { singleStatement },
      )
      tighten(t)
      try {
        const outcomes = await Promise.allSettled([group.run('a'), group.run(`b${'x'.repeat(300_000)}`), group.run('c')])
        expect(outcomes.map((o) => (o.status === 'rejected' ? unavailability(o.reason) : o.status))).toEqual(['full', 'full', 'full'])
      } finally {
        loosen(t)
      }
      expect(rows(prefix)).toEqual([])
      expect(await group.run('d')).toBe('d')
      expect(rows(prefix)).toEqual([`${prefix}d`])
    })
  }

  test('POST /tasks, whose INSERT SQLite undoes alone: only the task the disk cannot hold is refused (507)', async () => {
    const app = await startTestApp()
    try {
      const datasetId = await new QueueFixture(app).dataset()
      const jobId = (await app.call('POST', '/jobs', { body: { dataset_id: datasetId, job_index: 0 } })).body.result
      const task = (name: string, extra = '') => app.call('POST', '/tasks', { body: { dataset_id: datasetId, job_id: jobId, task_index: 0, name, depends: [], requirements: {}, extra } })
      tighten(app)
      const replies = await Promise.all([task('a'), task('big', 'x'.repeat(300_000)), task('c')])
      loosen(app)
      expect(replies.map((r) => r.status)).toEqual([201, 507, 201])
      expect((app.ctx.sqlite.query("SELECT json_extract(doc, '$.name') AS name FROM tasks ORDER BY rowid").all() as { name: string }[]).map((row) => row.name)).toEqual(['a', 'c'])
    } finally {
      app.close()
    }
  })
})
