/**
 * The end of a claimed task's run (API.md 4.5.1): `reset` (a failure; the
 * task can be queued again) and `complete`. Each runs in one write
 * transaction taken with BEGIN IMMEDIATE.
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { timestamp } from '../../db/documents'
import type { Prepared } from '../../db/query'
import { fail } from '../../errors'
import type { Actor } from '../history/service'
import { taskRefOf, type Transitions } from '../scheduler/transitions'
import { queueQueries } from './queries'

/** A status change that returns the task's ref and document when it applied. */
type Change = Prepared<{ rowid: number; task_id: string; dataset_id: string; job_id: string; doc: string }>

export class LifecycleService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly transitions: Transitions,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = queueQueries(db)
  }

  /**
   * A task that is not complete becomes `reset` with one more failure; with
   * `timeUsed` (seconds) its error walltime grows by that many hours. Returns
   * the updated task as JSON text; 404 if missing or complete.
   */
  reset(taskId: string, timeUsed: number | undefined, by: Actor, reason?: string, instanceId?: string): Promise<string> {
    return this.change(taskId, instanceId, timeUsed, this.queries.reset, this.queries.resetTimed, 'is complete', 'reset', by, reason)
  }

  /**
   * A processing task becomes `complete`; with `timeUsed` (seconds) its walltime
   * is set to that many hours. Returns the updated task as JSON text; 404 if
   * missing or not processing.
   */
  complete(taskId: string, timeUsed: number | undefined, by: Actor, instanceId?: string): Promise<string> {
    return this.change(taskId, instanceId, timeUsed, this.queries.complete, this.queries.completeTimed, 'is not processing', 'complete', by)
  }

  /**
   * One change of the task to `to` by `plain`, or by `timed` with the hours it
   * ran; 409 for a stale `instanceId` (with the scheduler on), 404 saying
   * `refused` when the task's status does not allow it.
   */
  private change(taskId: string, instanceId: string | undefined, timeUsed: number | undefined, plain: Change, timed: Change, refused: string, to: string, by: Actor, reason?: string): Promise<string> {
    return writeTx(this.db, () => {
      this.transitions.checkClaim(taskId, instanceId)
      const from = this.queries.status.get({ task_id: taskId })?.status
      const now = timestamp(this.clock())
      const row = timeUsed === undefined ? plain.get({ task_id: taskId, now }) : timed.get({ task_id: taskId, now, hours: timeUsed / 3600 })
      if (!row) this.refuse(taskId, refused)
      this.transitions.task(taskRefOf(row), from as string, to, by, reason)
      return row.doc
    })
  }

  private refuse(taskId: string, why: string): never {
    const task = this.queries.status.get({ task_id: taskId })
    if (!task) fail(404, `task ${taskId} not found`)
    fail(404, `task ${taskId} ${why} (status ${task.status})`)
  }
}
