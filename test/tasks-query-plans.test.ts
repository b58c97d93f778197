/**
 * Every query of every module's queries.ts (its SQL text, as prepared) must
 * be answered from an index: no full table scan and no sort for an ORDER BY,
 * so that the paged listings that stream, the queue action's cursors and the
 * claim never sort or scan. The few queries that read a whole table on
 * purpose are named below.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Prepared } from '../src/db/query'
import { authQueries } from '../src/modules/auth/queries'
import { configQueries } from '../src/modules/config/queries'
import { datasetQueries } from '../src/modules/datasets/queries'
import { gridQueries } from '../src/modules/grids/queries'
import { historyQueries } from '../src/modules/history/queries'
import { jobQueries } from '../src/modules/jobs/queries'
import { logQueries } from '../src/modules/logs/queries'
import { metricsQueries } from '../src/modules/metrics/queries'
import { pilotQueries } from '../src/modules/pilots/queries'
import { queueQueries } from '../src/modules/queue/queries'
import { schedulerQueries } from '../src/modules/scheduler/queries'
import { taskStatQueries } from '../src/modules/task_stats/queries'
import { PAGE_FILTERS, pageKey, taskQueries, type PageFilter } from '../src/modules/tasks/queries'
import { progressQueries } from '../src/modules/progress/queries'
import { bulkQueries, selectionKey } from '../src/modules/scheduler/queries'
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

const TABLES = ['tasks', 'jobs', 'datasets', 'logs', 'task_stats', 'task_counts', 'job_counts', 'auths', 'task_queue', 'task_depends', 'status_history', 'task_completions']

/**
 * Queries that read a whole table on purpose: listings of every row of a
 * small table, the admin's clean-ups when a role or group is deleted, the
 * counts tables at a scrape or a queue action (one row per dataset and status,
 * or per kind, status and reason of the scheduler's changes).
 */
const WHOLE_TABLE = new Set([
  'datasets.list',
  'auth.roles',
  'auth.groups',
  'auth.users',
  'auth.usersHolding',
  'auth.rules',
  'grids.list',
  'pilots.list',
  'queue.pendingSources',
  'metrics.taskCounts',
  'metrics.schedulerChanges',
])

function expectIndexed(name: string, sql: string) {
  const steps = plan(sql)
  // An ORDER BY answered by a sort: a listing that streams would sort every page.
  expect({ name, steps, sorts: steps.some((step) => /TEMP B-TREE FOR .*ORDER BY/.test(step)) }).toEqual({ name, steps, sorts: false })
  if (WHOLE_TABLE.has(name)) return
  // A write that reads no table (an insert) has no plan.
  if (steps.length === 0 && /^insert /.test(sql)) return
  for (const step of steps) {
    // "SCAN <table>" alone is a full table scan; "SCAN <table> USING ... INDEX" at least walks an index.
    for (const table of TABLES) expect({ name, step, fullScan: new RegExp(`^SCAN ${table}$`).test(step) }).toEqual({ name, step, fullScan: false })
  }
  expect({ name, usesIndex: steps.some((step) => /USING (COVERING |PRIMARY KEY |INTEGER PRIMARY KEY |)INDEX|USING INTEGER PRIMARY KEY|USING PRIMARY KEY/.test(step)) }).toEqual({ name, usesIndex: true })
}

/** Every combination of filters a task listing can apply: any with a dataset, a status alone or none without one. */
function taskPageKeys(): string[] {
  const inDataset = PAGE_FILTERS.filter((name) => name !== 'dataset_id')
  const keys = [pageKey([]), pageKey(['status'])]
  for (let mask = 0; mask < 1 << inDataset.length; mask++) {
    keys.push(pageKey(['dataset_id', ...inDataset.filter((_, i) => mask & (1 << i))] as PageFilter[]))
  }
  return keys
}

type QuerySet = Record<string, Prepared<unknown>>

/** Every module's queries by name (keyed families at the keys they are used with). */
const MODULES: Record<string, (db: TestApp['ctx']['db']) => QuerySet> = {
  tasks(db) {
    const { page, ...queries } = taskQueries(db)
    return { ...queries, ...Object.fromEntries(taskPageKeys().map((key) => [`page ${key || 'all'}`, page(key)])) }
  },
  queue(db) {
    const { readyTasks, ...queries } = queueQueries(db)
    return { ...queries, readyTasks: readyTasks(0) }
  },
  jobs: jobQueries,
  datasets: datasetQueries,
  task_stats: taskStatQueries,
  logs: logQueries,
  config: configQueries,
  auth: authQueries,
  grids: gridQueries,
  pilots: pilotQueries,
  metrics: metricsQueries,
  history: historyQueries,
  scheduler: schedulerQueries,
  progress: progressQueries,
}

describe('query plans', () => {
  for (const [module, queriesOf] of Object.entries(MODULES)) {
    test(`${module}: every query is answered from an index, without sorting`, () => {
      const queries = Object.entries(queriesOf(t.ctx.db))
      expect(queries.length).toBeGreaterThan(1)
      for (const [name, query] of queries) expectIndexed(`${module}.${name}`, query.sql)
    })
  }

  test('the queries allowed to read a whole table exist', () => {
    const names = new Set(Object.entries(MODULES).flatMap(([module, queriesOf]) => Object.keys(queriesOf(t.ctx.db)).map((name) => `${module}.${name}`)))
    expect([...WHOLE_TABLE].filter((name) => !names.has(name))).toEqual([])
  })

  test('the claim walks the queue in claim order on its covering index', () => {
    expect(plan(queueQueries(t.ctx.db).claimCandidates.sql)).toEqual(['SCAN task_queue USING INDEX task_queue_claim'])
  })

  test('status histories: one indexed query each, newest first, along the (kind, subject) index', () => {
    const queries = historyQueries(t.ctx.db)
    for (const [name, query] of [['dataset', queries.dataset], ['job', queries.job], ['task', queries.task]] as const) {
      expect({ name, steps: plan(query.sql) }).toEqual({ name, steps: expect.arrayContaining([expect.stringContaining('USING INDEX status_history_subject (kind=? AND subject=?)')]) })
    }
  })

  test("a job's tasks are found through the job's (dataset_id, job_index), not by scanning the dataset", () => {
    const byJob = taskQueries(t.ctx.db).page(pageKey(['dataset_id', 'job_id']))
    expect(plan(byJob.sql)[0]).toContain('USING INDEX tasks_dataset_job_index (dataset_id=? AND job_index=? AND rowid>?)')
  })

  test("the scheduler's queries: no scan of tasks, the queue or the counts, and none walks the tasks of a status", () => {
    for (const [name, query] of Object.entries(schedulerQueries(t.ctx.db))) {
      const steps = plan(query.sql)
      for (const step of steps) {
        for (const table of ['tasks', 'task_queue', 'task_depends', 'task_counts', 'jobs', 'datasets']) {
          expect({ name, step, fullScan: new RegExp(`^SCAN ${table}\\b`).test(step) && !step.includes('INDEX') }).toEqual({ name, step, fullScan: false })
        }
      }
      expect({ name, sorts: steps.some((step) => step.includes('TEMP B-TREE')) }).toEqual({ name, sorts: false })
      // Each finds its few rows by key: walking every task of a status is a scan by another name.
      expect({ name, steps, byStatus: steps.some((step) => /INDEX tasks_(dataset_)?status\b/.test(step)) }).toEqual({ name, steps, byStatus: false })
    }
  })

  test("a scheduler claim walks only the queued tasks of one dataset's processing jobs", () => {
    expect(plan(schedulerQueries(t.ctx.db).candidates.sql)).toEqual(['SEARCH task_queue USING INDEX task_queue_active_claim (dataset=? AND job_active=? AND seq>?)'])
  })

  test("the bulk actions' statements: every table of the database searched by key, driven from the selected tasks or the ids named", () => {
    const { selection, ...fixed } = bulkQueries(t.ctx.db)
    const selections = {
      'select all': selection(selectionKey('hard_reset', 'dataset', undefined, false)),
      'select by status': selection(selectionKey('reset', 'dataset', ['failed'], false)),
      'select by name': selection(selectionKey('suspend', 'dataset', undefined, true)),
      'select by task ids': selection(selectionKey('status', 'task ids', ['waiting'], true)),
      'select by job ids': selection(selectionKey('suspend', 'job ids', undefined, false)),
    }
    const queries = Object.entries({ ...fixed, ...selections })
    expect(queries.length).toBeGreaterThan(30)
    const persistent = ['tasks', 'jobs', 'datasets', 'task_queue', 'task_depends', 'task_counts', 'job_counts', 'job_task_counts', 'status_history']
    for (const [name, query] of queries) {
      const steps = plan(query.sql)
      for (const step of steps) {
        for (const table of persistent) expect({ name, step, fullScan: new RegExp(`^SCAN ${table}\\b`).test(step) && !step.includes('INDEX') }).toEqual({ name, step, fullScan: false })
      }
      // Only the selection of a status filter walks the dataset's tasks of a status; the follow-ups find their few tasks by key.
      if (name !== 'select by status') expect({ name, steps, byStatus: steps.some((step) => /INDEX tasks_(dataset_)?status\b/.test(step)) }).toEqual({ name, steps, byStatus: false })
    }
    expect(plan(selections['select by job ids'].sql).slice(0, 3)).toEqual([
      'SCAN bulk_id',
      'SEARCH jobs USING INDEX sqlite_autoindex_jobs_1 (job_id=?)',
      'SEARCH tasks USING INDEX tasks_dataset_job_index (dataset_id=? AND job_index=?)',
    ])
    for (const name of ['apply', 'applyHardReset', 'applyFollow', 'applyRequirements'] as const) {
      expect({ name, first: plan(fixed[name].sql)[0] }).toEqual({ name, first: 'SEARCH tasks USING INTEGER PRIMARY KEY (rowid=?)' })
    }
  })

  test('progress and queue diagnostics read maintained counts and the queue index: never a task or a history entry', () => {
    for (const [name, query] of Object.entries(progressQueries(t.ctx.db))) {
      const steps = plan(query.sql)
      expect({ name, steps, reads: steps.some((step) => /^(SCAN|SEARCH) (tasks|status_history|jobs)\b/.test(step)) }).toEqual({ name, steps, reads: false })
    }
    expect(plan(progressQueries(t.ctx.db).numericUnmatched.sql)).toEqual(['SEARCH task_queue USING COVERING INDEX task_queue_active_claim (dataset=?)'])
  })

  test('the check itself catches a full scan and a sort', () => {
    expect(() => expectIndexed('probe', "SELECT doc FROM tasks WHERE json_extract(doc, '$.name') = ?")).toThrow()
    expect(() => expectIndexed('list probe', 'SELECT doc FROM tasks WHERE dataset_id = ? ORDER BY task_index')).toThrow()
    expect(() => expectIndexed('datasets.list', 'SELECT doc FROM datasets ORDER BY priority')).toThrow()
  })
})
