/**
 * The SQL on tasks that the queue's queries (queue/queries.ts) and the
 * scheduler's (queries.ts) have in common.
 */
import { and, eq, notExists, sql, type SQL } from 'drizzle-orm'
import { alias, type SQLiteColumn, type SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { taskDepends, taskQueue, tasks } from '../../db/schema'

export const p = sql.placeholder
/** The time a change is stamped with. */
export const now = p('now')
export const byTaskId = eq(tasks.taskId, p('task_id'))
/** What a task statement returns as the task's ref (refs.ts's TaskRef), for its history. */
export const taskRef = {
  rowid: sql<number>`${tasks}.rowid`,
  task_id: tasks.taskId,
  dataset_id: sql<string>`${tasks.datasetId}`.as('dataset_id'),
  job_id: sql<string>`${tasks.jobId}`.as('job_id'),
}
/** A task that another depends on. */
export const dependency = alias(tasks, 'dependency')

/** task_depends, or an alias of it for a statement that reads task_depends itself. */
type DependsTable = SQLiteTable & { taskId: SQLiteColumn; dependsOn: SQLiteColumn }

/**
 * The task whose id is `taskId` is ready: every task it depends on (through
 * `depends`) exists and is complete, and meets `extra` where given. A
 * dependency on a missing task is never complete.
 */
export function ready(db: Db, taskId: SQLiteColumn, depends: DependsTable = taskDepends, extra?: SQL): SQL {
  const complete = and(eq(dependency.taskId, depends.dependsOn), sql`${dependency.status} = 'complete'`, extra)
  return notExists(
    db
      .select({ one: sql`1` })
      .from(depends)
      .where(and(eq(depends.taskId, taskId), notExists(db.select({ one: sql`1` }).from(dependency).where(complete)))),
  )
}

/** Drops the queue row of the task `task_id`: a claim found it without a queued task (which the triggers never leave). */
export const dropQueueRow = (db: Db) => prepared(db, () => db.delete(taskQueue).where(eq(taskQueue.taskId, p('task_id'))))
