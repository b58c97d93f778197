/**
 * The SQL on tasks that the queue's queries (queue/queries.ts) and the
 * scheduler's (queries.ts) have in common.
 */
import { and, eq, notExists, sql, type SQL } from 'drizzle-orm'
import { alias, type SQLiteColumn, type SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { Db } from '../../db'
import { taskDepends, tasks } from '../../db/schema'

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
