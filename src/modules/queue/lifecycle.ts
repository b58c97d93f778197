/**
 * The end of a claimed task's run (API.md 4.5.1): `reset` (a failure; the
 * task can be queued again) and `complete`. Answers that arrive together
 * share one write transaction (group commit), each in its own savepoint:
 * with the scheduler, one answer can make a dozen writes (dependents queued,
 * job and dataset rolled up, see scheduler/transitions.ts).
 */
import { systemClock, type Clock } from '../../clock'
import type { Db } from '../../db'
import { timestamp } from '../../db/documents'
import { GroupCommit } from '../../db/group-commit'
import type { Prepared } from '../../db/query'
import { fail } from '../../errors'
import type { Actor } from '../history/service'
import type { FailureReport, TaskRef } from '../scheduler/refs'
import type { Transitions } from '../scheduler/transitions'
import { queueQueries } from './queries'

type ChangedRow = TaskRef & { doc: string }
/** A status change that returns the task's ref and document when it applied. */
type Change = Prepared<ChangedRow>

/** What a pilot reports with a reset: `time_used` seconds, and with the scheduler the claim it answers for and why. */
export interface ResetReport extends FailureReport {
  timeUsed?: number
  instanceId?: string
}

export class LifecycleService {
  private readonly queries
  private readonly answers: GroupCommit<() => string, string>

  constructor(
    db: Db,
    private readonly transitions: Transitions,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = queueQueries(db)
    this.answers = new GroupCommit(db, (answer) => answer())
  }

  /**
   * A task that is not complete becomes `reset` with one more failure; with
   * `timeUsed` (seconds) its error walltime grows by that many hours. Returns
   * the updated task as JSON text; 404 if missing or complete, 409 for a
   * stale `instanceId` (with the scheduler on).
   */
  reset(taskId: string, report: ResetReport, by: Actor): Promise<string> {
    return this.answers.run(() => {
      this.transitions.checkClaim(taskId, report.instanceId)
      const from = this.queries.status.get({ task_id: taskId })?.status
      const row = this.change(taskId, report.timeUsed, this.queries.reset, this.queries.resetTimed) ?? this.refuse(taskId, 'is complete')
      this.transitions.task(row, from as string, 'reset', by, report.reason, report)
      // With the scheduler the task has moved on from reset: answer with it as it is now.
      return this.transitions.scheduling ? this.queries.doc.get({ task_id: taskId })!.doc : row.doc
    })
  }

  /**
   * A processing task becomes `complete`; with `timeUsed` (seconds) its walltime
   * is set to that many hours. Returns the updated task as JSON text; 404 if
   * missing or not processing, 409 for a stale `instanceId` (with the scheduler on).
   */
  complete(taskId: string, timeUsed: number | undefined, by: Actor, instanceId?: string): Promise<string> {
    return this.answers.run(() => {
      this.transitions.checkClaim(taskId, instanceId)
      const row = this.change(taskId, timeUsed, this.queries.complete, this.queries.completeTimed) ?? this.refuse(taskId, 'is not processing')
      this.transitions.task(row, 'processing', 'complete', by)
      return row.doc
    })
  }

  /** One change of the task by `plain`, or by `timed` with the hours it ran; undefined when its status does not allow it. */
  private change(taskId: string, timeUsed: number | undefined, plain: Change, timed: Change): ChangedRow | undefined {
    const now = timestamp(this.clock())
    return timeUsed === undefined ? plain.get({ task_id: taskId, now }) : timed.get({ task_id: taskId, now, hours: timeUsed / 3600 })
  }

  private refuse(taskId: string, why: string): never {
    const task = this.queries.status.get({ task_id: taskId })
    if (!task) fail(404, `task ${taskId} not found`)
    fail(404, `task ${taskId} ${why} (status ${task.status})`)
  }
}
