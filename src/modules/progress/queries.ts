/**
 * Progress's and the queue diagnostics' queries (see db/query.ts): the
 * maintained counts, the dataset's row and config, and the dataset's range
 * of the queue's index; never a task row or a history entry.
 */
import { and, eq, gt, lte, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { configs, datasets, jobCounts, taskCompletions, taskCounts, taskQueue } from '../../db/schema'
import { NUMERIC_KEYS } from '../queue/requirements'

const p = sql.placeholder
const field = (path: string) => sql`json_extract(${datasets.doc}, ${sql.raw(`'${path}'`)})`

export function progressQueries(db: Db) {
  /** A dataset's `{status, n}` rows of a counts table, the statuses that occur. */
  const counts = (table: typeof taskCounts | typeof jobCounts) =>
    prepared(db, () =>
      db
        .select({ status: table.status, n: table.n })
        .from(table)
        .where(and(eq(table.datasetId, p('dataset_id')), gt(table.n, 0))),
    )
  return {
    dataset: prepared(db, () =>
      db
        .select({
          rowid: sql<number>`${datasets}.rowid`.as('rowid'),
          jobs_submitted: sql<unknown>`${field('$.jobs_submitted')}`.as('jobs_submitted'),
          tasks_submitted: sql<unknown>`${field('$.tasks_submitted')}`.as('tasks_submitted'),
          tasks_per_job: sql<unknown>`${field('$.tasks_per_job')}`.as('tasks_per_job'),
          config_tasks: sql<number | null>`CASE WHEN json_type(${configs.doc}, '$.tasks') = 'array' THEN json_array_length(${configs.doc}, '$.tasks') END`.as('config_tasks'),
        })
        .from(datasets)
        .leftJoin(configs, eq(configs.datasetId, datasets.datasetId))
        .where(eq(datasets.datasetId, p('dataset_id'))),
    ),
    taskCounts: counts(taskCounts),
    jobCounts: counts(jobCounts),
    // This minute's completions and the 59 minutes' before (`minute`: now, in minutes).
    completed: prepared(db, () =>
      db
        .select({ n: sql<number>`coalesce(sum(${taskCompletions.n}), 0)`.as('n') })
        .from(taskCompletions)
        .where(and(eq(taskCompletions.datasetId, p('dataset_id')), gt(taskCompletions.minute, sql`${p('minute')} - 60`), lte(taskCompletions.minute, p('minute')))),
    ),
    // One pass over the dataset's queued tasks on the covering queue index: how many, and how many each numeric bound leaves out.
    numericUnmatched: prepared(db, () =>
      db
        .select({
          queued: sql<number>`count(*)`.as('queued'),
          ...(Object.fromEntries(NUMERIC_KEYS.map((key) => [key, sql<number>`coalesce(sum(${taskQueue[key]} > ${p(key)}), 0)`.as(key)])) as Record<(typeof NUMERIC_KEYS)[number], SQL.Aliased<number>>),
        })
        .from(taskQueue)
        .where(eq(taskQueue.dataset, p('dataset'))),
    ),
    // The dataset's queued tasks with requirements beyond the numeric columns, by distinct requirements.
    otherRequirements: prepared(db, () =>
      db
        .select({ requirements: taskQueue.requirements, n: sql<number>`count(*)`.as('n') })
        .from(taskQueue)
        .where(and(eq(taskQueue.dataset, p('dataset')), sql`${taskQueue.hasOther}`))
        .groupBy(taskQueue.requirements),
    ),
  }
}
