/**
 * The end of a claimed task's run (API.md 4.5.1): `reset` (a failure; the
 * task can be queued again) and `complete`. Each runs in one write
 * transaction taken with BEGIN IMMEDIATE.
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { timestamp } from '../../db/documents'
import { fail } from '../../errors'
import { queueQueries } from './queries'

export class LifecycleService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = queueQueries(db)
  }

  /**
   * A task that is not complete becomes `reset` with one more failure; with
   * `timeUsed` (seconds) its error walltime grows by that many hours. Returns
   * the updated task as JSON text; 404 if missing or complete.
   */
  reset(taskId: string, timeUsed: number | undefined): string {
    return writeTx(this.db, () => {
      const now = timestamp(this.clock())
      const row = timeUsed === undefined
        ? this.queries.reset.get({ task_id: taskId, now })
        : this.queries.resetTimed.get({ task_id: taskId, now, hours: timeUsed / 3600 })
      return row?.doc ?? this.refuse(taskId, 'is complete')
    })
  }

  /**
   * A processing task becomes `complete`; with `timeUsed` (seconds) its walltime
   * is set to that many hours. Returns the updated task as JSON text; 404 if
   * missing or not processing.
   */
  complete(taskId: string, timeUsed: number | undefined): string {
    return writeTx(this.db, () => {
      const now = timestamp(this.clock())
      const row = timeUsed === undefined
        ? this.queries.complete.get({ task_id: taskId, now })
        : this.queries.completeTimed.get({ task_id: taskId, now, hours: timeUsed / 3600 })
      return row?.doc ?? this.refuse(taskId, 'is not processing')
    })
  }

  private refuse(taskId: string, why: string): never {
    const task = this.queries.status.get({ task_id: taskId })
    if (!task) fail(404, `task ${taskId} not found`)
    fail(404, `task ${taskId} ${why} (status ${task.status})`)
  }
}
