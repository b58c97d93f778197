/** The one way queries run (db/query.ts): drizzle's SQL, prepared once on bun:sqlite, values by placeholder name. */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { and, eq, sql } from 'drizzle-orm'
import { prepared, preparedPer } from '../src/db/query'
import { tasks } from '../src/db/schema'
import { startTestApp, type TestApp } from './support'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
  t.ctx.sqlite.run(`INSERT INTO tasks (task_id, doc) VALUES
    ('q1', '{"task_id":"q1","dataset_id":"dq","status":"complete","name":"a"}'),
    ('q2', '{"task_id":"q2","dataset_id":"dq","status":"waiting","name":"b"}'),
    ('q3', '{"task_id":"q3","dataset_id":"dq","status":"complete","name":"c"}')`)
})
afterAll(() => t.close())

const p = sql.placeholder

test('values are bound by placeholder name beside the literals of the query; rows are keyed by the selection', () => {
  const { db } = t.ctx
  const complete = prepared(db, () =>
    db
      .select({ task_id: tasks.taskId, name: tasks.name, n: sql<number>`length(${tasks.doc})`.as('n') })
      .from(tasks)
      .where(and(eq(tasks.datasetId, p('dataset_id')), eq(tasks.status, 'complete')))
      .orderBy(sql`${tasks}.rowid`),
  )
  const rows = complete.all({ dataset_id: 'dq' })
  expect(rows.map(({ task_id, name }) => ({ task_id, name }))).toEqual([
    { task_id: 'q1', name: 'a' },
    { task_id: 'q3', name: 'c' },
  ])
  expect(typeof rows[0]!.n).toBe('number')
  expect(complete.get({ dataset_id: 'elsewhere' })).toBeUndefined()
})

test('a query is prepared at its first use, once', () => {
  const { db } = t.ctx
  let built = 0
  const doc = prepared(db, () => {
    built++
    return db.select({ doc: tasks.doc }).from(tasks).where(eq(tasks.taskId, p('task_id')))
  })
  expect(built).toBe(0)
  expect(JSON.parse(doc.get({ task_id: 'q2' })!.doc).status).toBe('waiting')
  expect(doc.get({ task_id: 'q1' })).toBeDefined()
  expect(doc.sql).toContain('"task_id" = ?')
  expect(built).toBe(1)
})

test('a selection key that is not the name SQLite gives the column is refused when the query is prepared', () => {
  const { db } = t.ctx
  const misnamed = prepared(db, () => db.select({ taskId: tasks.taskId }).from(tasks))
  expect(() => misnamed.all()).toThrow('keyed task_id, not taskId')
  const unnamed = prepared(db, () => db.select({ n: sql<number>`count(*)` }).from(tasks))
  expect(() => unnamed.get()).toThrow('not n')
})

test('queries per key are separate statements: two cursors read at once', () => {
  const { db } = t.ctx
  const byStatus = preparedPer(db, (_cursor: number) =>
    db.select({ task_id: tasks.taskId }).from(tasks).where(eq(tasks.status, p('status'))).orderBy(sql`${tasks}.rowid`),
  )
  expect(byStatus(0)).toBe(byStatus(0))
  const complete = byStatus(0).iterate({ status: 'complete' })
  const waiting = byStatus(1).iterate({ status: 'waiting' })
  expect([complete.next().value, waiting.next().value, complete.next().value]).toEqual([{ task_id: 'q1' }, { task_id: 'q2' }, { task_id: 'q3' }])
  complete.return?.()
  waiting.return?.()
})

test('writes report their changes', () => {
  const { db } = t.ctx
  const rename = prepared(db, () => db.update(tasks).set({ doc: sql`json_set(${tasks.doc}, '$.name', ${p('name')})` }).where(eq(tasks.datasetId, p('dataset_id'))))
  expect(rename.run({ dataset_id: 'dq', name: 'z' }).changes).toBe(3)
  expect(t.ctx.sqlite.query("SELECT count(*) AS n FROM tasks WHERE name = 'z'").get()).toEqual({ n: 3 })
})
