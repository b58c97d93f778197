/** The task_stats module's queries (see db/query.ts). */
import { and, desc, eq, sql } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { tasks, taskStats } from '../../db/schema'

const p = sql.placeholder
const rowid = sql`${taskStats}.rowid`
const ofTask = and(eq(taskStats.taskId, p('task_id')), eq(taskStats.datasetId, p('dataset_id')))
const idAndDoc = { id: sql<string>`${taskStats.taskStatId}`.as('id'), doc: taskStats.doc }

export function taskStatQueries(db: Db) {
  return {
    taskDataset: prepared(db, () => db.select({ dataset_id: tasks.datasetId }).from(tasks).where(eq(tasks.taskId, p('task_id')))),
    insert: prepared(db, () => db.insert(taskStats).values({ taskStatId: p('task_stat_id'), doc: p('doc') })),
    list: prepared(db, () => db.select(idAndDoc).from(taskStats).where(ofTask).orderBy(rowid)),
    last: prepared(db, () => db.select(idAndDoc).from(taskStats).where(ofTask).orderBy(desc(rowid)).limit(1)),
    doc: prepared(db, () =>
      db
        .select({ doc: taskStats.doc })
        .from(taskStats)
        .where(and(eq(taskStats.taskStatId, p('task_stat_id')), eq(taskStats.taskId, p('task_id')), eq(taskStats.datasetId, p('dataset_id')))),
    ),
  }
}
