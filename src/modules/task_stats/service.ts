/**
 * Task statistics: documents `{task_stat_id, task_id, dataset_id,
 * create_date, stats}` recorded for an existing task.
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { newId, timestamp } from '../../db/documents'
import { fail } from '../../errors'
import type { TaskStatModel } from './model'
import { taskStatQueries } from './queries'

export type NewTaskStat = typeof TaskStatModel.create.static

export class TaskStatService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = taskStatQueries(db)
  }

  /** Records `stats` for the task (404 when missing; its dataset_id must be the task's, 400); returns the new id. */
  async create(taskId: string, stats: NewTaskStat): Promise<string> {
    const taskStatId = newId()
    const doc = { task_stat_id: taskStatId, task_id: taskId, dataset_id: stats.dataset_id, create_date: timestamp(this.clock()), stats }
    await writeTx(this.db, () => {
      const task = this.queries.taskDataset.get({ task_id: taskId }) ?? fail(404, `task ${taskId} not found`)
      if (task.dataset_id !== stats.dataset_id) fail(400, `key dataset_id must be the dataset of task ${taskId}`)
      this.queries.insert.run({ task_stat_id: taskStatId, doc: JSON.stringify(doc) })
    })
    return taskStatId
  }

  /** The task's stats in creation order (only the newest with `last`); 404 when the task is not in the dataset. */
  list(datasetId: string, taskId: string, last: boolean): { id: string; doc: string }[] {
    const task = this.queries.taskDataset.get({ task_id: taskId })
    if (!task || task.dataset_id !== datasetId) fail(404, `task ${taskId} not found`)
    return (last ? this.queries.last : this.queries.list).all({ task_id: taskId, dataset_id: datasetId })
  }

  /** One task stat (JSON text); 404 unless it belongs to that task of that dataset. */
  get(datasetId: string, taskId: string, taskStatId: string): string {
    return this.queries.doc.get({ task_stat_id: taskStatId, task_id: taskId, dataset_id: datasetId })?.doc ?? fail(404, `task stat ${taskStatId} not found`)
  }
}
