/**
 * The services' own listing, lookup and count queries (their SQL text, taken
 * from the prepared statements) must be answered from an index: no full
 * table scan, and no per-page sort for the paged listings that stream.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { DatasetService } from '../src/modules/datasets/service'
import { JobService } from '../src/modules/jobs/service'
import { LogService } from '../src/modules/logs/service'
import { TaskStatService } from '../src/modules/task_stats/service'
import { TaskService } from '../src/modules/tasks/service'
import { startTestApp, type TestApp } from './support'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(() => t.close())

function plan(sql: string): string[] {
  const parameters = (sql.match(/\?/g) ?? []).map(() => 'x')
  return (t.ctx.sqlite.query(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[]).map((row) => row.detail)
}

const TABLES = ['tasks', 'jobs', 'datasets', 'logs', 'task_stats', 'task_counts', 'job_counts', 'auths']

function expectIndexed(name: string, sql: string) {
  const steps = plan(sql)
  for (const step of steps) {
    // "SCAN <table>" alone is a full table scan; "SCAN <table> USING ... INDEX" at least walks an index.
    for (const table of TABLES) expect({ name, step, fullScan: new RegExp(`^SCAN ${table}$`).test(step) }).toEqual({ name, step, fullScan: false })
  }
  expect({ name, usesIndex: steps.some((step) => /USING (COVERING |PRIMARY KEY |INTEGER PRIMARY KEY |)INDEX|USING INTEGER PRIMARY KEY|USING PRIMARY KEY/.test(step)) }).toEqual({ name, usesIndex: true })
  if (name.startsWith('list')) expect({ name, steps, sorts: steps.some((step) => step.includes('TEMP B-TREE')) }).toEqual({ name, steps, sorts: false })
}

describe('query plans', () => {
  test('tasks', () => {
    const queries = new TaskService(t.ctx.db).queriesForPlanCheck()
    expect(queries.length).toBeGreaterThan(10)
    for (const { name, sql } of queries) expectIndexed(name, sql)
  })

  test("a job's tasks are found through the job's (dataset_id, job_index), not by scanning the dataset", () => {
    const byJob = new TaskService(t.ctx.db).queriesForPlanCheck().find((q) => q.name === 'list dataset+job_id')!
    expect(plan(byJob.sql)[0]).toContain('USING INDEX tasks_dataset_job_index (dataset_id=? AND job_index=? AND rowid>?)')
  })

  test('jobs', () => {
    for (const { name, sql } of new JobService(t.ctx.db).queriesForPlanCheck()) expectIndexed(name, sql)
  })

  test('datasets', () => {
    for (const { name, sql } of new DatasetService(t.ctx.db, t.ctx.auth).queriesForPlanCheck()) expectIndexed(name, sql)
  })

  test('task stats', () => {
    for (const { name, sql } of new TaskStatService(t.ctx.db).queriesForPlanCheck()) expectIndexed(name, sql)
  })

  test('logs', () => {
    for (const { name, sql } of new LogService(t.ctx.db).queriesForPlanCheck()) expectIndexed(name, sql)
  })

  test('the check itself catches a full scan and a sort', () => {
    expect(() => expectIndexed('probe', "SELECT doc FROM tasks WHERE json_extract(doc, '$.name') = ?")).toThrow()
    expect(() => expectIndexed('list probe', 'SELECT doc FROM tasks WHERE dataset_id = ? ORDER BY task_index')).toThrow()
  })
})
