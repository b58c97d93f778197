/**
 * Task statistics: documents `{task_stat_id, task_id, dataset_id,
 * create_date, stats}` recorded for an existing task.
 */
import { and, eq, sql } from 'drizzle-orm'
import { writeTx, type Db } from '../../db'
import { newId, timestamp } from '../../db/documents'
import { systemClock, type Clock } from '../../clock'
import { tasks, taskStats } from '../../db/schema'
import { lazy } from '../../db/lazy'
import { fail } from '../../errors'

const byCreation = sql`${taskStats}.rowid`
const p = sql.placeholder

const ofTask = and(eq(taskStats.taskId, p('task_id')), eq(taskStats.datasetId, p('dataset_id')))

export class TaskStatService {
  private readonly taskDatasetQuery = lazy(() => this.db.select({ datasetId: tasks.datasetId }).from(tasks).where(eq(tasks.taskId, p('task_id'))).prepare())
  private readonly insertQuery = lazy(() => this.db.insert(taskStats).values({ taskStatId: p('task_stat_id'), doc: p('doc') }).prepare())
  private readonly listQuery = lazy(() => this.db.select({ id: taskStats.taskStatId, doc: taskStats.doc }).from(taskStats).where(ofTask).orderBy(byCreation).prepare())
  private readonly lastQuery = lazy(() =>
    this.db
      .select({ id: taskStats.taskStatId, doc: taskStats.doc })
      .from(taskStats)
      .where(ofTask)
      .orderBy(sql`${byCreation} DESC`)
      .limit(1)
      .prepare(),
  )
  private readonly docQuery = lazy(() =>
    this.db
      .select({ doc: taskStats.doc })
      .from(taskStats)
      .where(and(eq(taskStats.taskStatId, p('task_stat_id')), eq(taskStats.taskId, p('task_id')), eq(taskStats.datasetId, p('dataset_id'))))
      .prepare(),
  )

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Records `stats` for the task (404 when missing; its dataset_id must be the task's, 400); returns the new id. */
  create(taskId: string, stats: Record<string, unknown> & { dataset_id: string }): string {
    const taskStatId = newId()
    const doc = { task_stat_id: taskStatId, task_id: taskId, dataset_id: stats.dataset_id, create_date: timestamp(this.clock()), stats }
    writeTx(this.db, () => {
      const task = this.taskDatasetQuery().get({ task_id: taskId }) ?? fail(404, `task ${taskId} not found`)
      if (task.datasetId !== stats.dataset_id) fail(400, `key dataset_id must be the dataset of task ${taskId}`)
      this.insertQuery().run({ task_stat_id: taskStatId, doc: JSON.stringify(doc) })
    })
    return taskStatId
  }

  /** The task's stats in creation order (only the newest with `last`); 404 when the task is not in the dataset. */
  list(datasetId: string, taskId: string, last: boolean): { id: string; doc: string }[] {
    const task = this.taskDatasetQuery().get({ task_id: taskId })
    if (!task || task.datasetId !== datasetId) fail(404, `task ${taskId} not found`)
    return (last ? this.lastQuery() : this.listQuery()).all({ task_id: taskId, dataset_id: datasetId })
  }

  /** One task stat (JSON text); 404 unless it belongs to that task of that dataset. */
  get(datasetId: string, taskId: string, taskStatId: string): string {
    return this.docQuery().get({ task_stat_id: taskStatId, task_id: taskId, dataset_id: datasetId })?.doc ?? fail(404, `task stat ${taskStatId} not found`)
  }

  /** The SQL of the lookups, for query-plan checks. */
  queriesForPlanCheck(): { name: string; sql: string }[] {
    return [
      { name: 'list', sql: this.listQuery().getQuery().sql },
      { name: 'last', sql: this.lastQuery().getQuery().sql },
      { name: 'get', sql: this.docQuery().getQuery().sql },
    ]
  }
}
