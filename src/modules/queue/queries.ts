/**
 * The task queue's queries (see db/query.ts). Every status change is a
 * `json_set` on the task document, so the status-count and task_queue
 * triggers follow it in the same statement. The task_queue table holds
 * exactly the queued tasks (see the task_queue migration).
 */
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lte, or, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared, preparedPer } from '../../db/query'
import { taskCounts, taskQueue, tasks } from '../../db/schema'
import { byTaskId, dropQueueRow, now, p, ready, taskRef } from '../scheduler/task-sql'
import { NUMERIC_KEYS } from './requirements'

/**
 * Statuses the queue action moves to `queued`. Not `reset`: IceProd's
 * reset_tasks decides what becomes of a failed task (waiting again, or
 * suspended/failed after too many failures), and a reset task queued again
 * would bypass it.
 */
const QUEUEABLE_STATUSES = ['waiting'] as const

/** A counter of the task document plus one. */
const incremented = (path: string) => sql`coalesce(json_extract(${tasks.doc}, ${sql.raw(`'${path}'`)}), 0) + 1`
const resetFields = sql`'$.status', 'reset', '$.status_changed', ${now}, '$.failures', ${incremented('$.failures')}`
const completeFields = sql`'$.status', 'complete', '$.status_changed', ${now}`
const notComplete = sql`${tasks.status} IS NOT 'complete'`
const processing = eq(tasks.status, 'processing')

export function queueQueries(db: Db) {
  /** A change of the task `task_id` where `condition` holds: one json_set of `fields` on its document, which it returns with the task's ref. */
  const changeTask = (fields: SQL, condition: SQL) =>
    db
      .update(tasks)
      .set({ doc: sql`json_set(${tasks.doc}, ${fields})` })
      .where(and(byTaskId, condition))
      .returning({ ...taskRef, doc: tasks.doc })
  return {
    // task_counts is exact and small: it names the datasets with queueable tasks without touching tasks.
    pendingSources: prepared(db, () =>
      db
        .select({ dataset_id: taskCounts.datasetId, status: taskCounts.status })
        .from(taskCounts)
        .where(and(inArray(taskCounts.status, QUEUEABLE_STATUSES), gt(taskCounts.n, 0), isNotNull(taskCounts.datasetId))),
    ),
    /**
     * Ready tasks of one (dataset, status) in creation order, streamed from the
     * (dataset_id, status) index (ready: see scheduler/task-sql.ts). One
     * statement per cursor: a queue action merges several at once.
     */
    readyTasks: preparedPer(db, (_cursor: number) =>
      db
        .select({ seq: sql<number>`${tasks}.rowid`.as('seq') })
        .from(tasks)
        .where(and(eq(tasks.datasetId, p('dataset_id')), eq(tasks.status, p('status')), ready(db, tasks.taskId)))
        .orderBy(sql`${tasks}.rowid`),
    ),
    // The numeric conditions are tested on the covering index in claim order;
    // rows with other requirements are then checked in code, one at a time.
    // Only those rows read `requirements` from the table (the CASE defers the seek).
    claimCandidates: prepared(db, () =>
      db
        .select({
          task_id: taskQueue.taskId,
          other_requirements: sql<string | null>`CASE WHEN ${taskQueue.hasOther} THEN ${taskQueue.requirements} END`.as('other_requirements'),
        })
        .from(taskQueue)
        .where(and(...NUMERIC_KEYS.map((key) => or(isNull(taskQueue[key]), lte(taskQueue[key], p(key))))))
        .orderBy(desc(taskQueue.priority), asc(taskQueue.seq)),
    ),
    markProcessing: prepared(db, () => changeTask(sql`'$.status', 'processing', '$.status_changed', ${now}`, eq(tasks.status, 'queued'))),
    dropQueueRow: dropQueueRow(db),
    reset: prepared(db, () => changeTask(resetFields, notComplete)),
    resetTimed: prepared(db, () =>
      changeTask(
        sql`${resetFields},
          '$.walltime_err', CAST(coalesce(json_extract(${tasks.doc}, '$.walltime_err'), 0) AS REAL) + ${p('hours')},
          '$.walltime_err_n', ${incremented('$.walltime_err_n')}`,
        notComplete,
      ),
    ),
    complete: prepared(db, () => changeTask(completeFields, processing)),
    completeTimed: prepared(db, () => changeTask(sql`${completeFields}, '$.walltime', CAST(${p('hours')} AS REAL)`, processing)),
    status: prepared(db, () => db.select({ status: tasks.status }).from(tasks).where(byTaskId)),
    doc: prepared(db, () => db.select({ doc: tasks.doc }).from(tasks).where(byTaskId)),
  }
}
