/**
 * Status transitions: every service that changes the status of a dataset,
 * job or task reports the change here, inside the transaction that made it.
 * Each change is written to the status history (§7.1). With the scheduler
 * on (§6), the changes it calls for follow in the same transaction, each
 * reported here in turn: a waiting task whose dependencies are all complete
 * is queued (§6.2).
 */
import type { Database, Statement } from 'bun:sqlite'
import type { Db } from '../../db'
import { timestamp } from '../../db/documents'
import { lazy } from '../../db/lazy'
import { fail } from '../../errors'
import { SERVER, type Actor, type HistoryService } from '../history/service'

/** A task whose status changed, as the statement that changed it returns it. */
export interface TaskRef {
  rowid: number
  taskId: string
  datasetId: string
  jobId: string
}

export interface JobRef {
  rowid: number
  jobId: string
  datasetId: string
}

export interface DatasetRef {
  rowid: number
  datasetId: string
}

/** A task's ref from a row keyed by its SQL column names. */
export const taskRefOf = (row: { rowid: number; task_id: string; dataset_id: string; job_id: string }): TaskRef => ({
  rowid: row.rowid,
  taskId: row.task_id,
  datasetId: row.dataset_id,
  jobId: row.job_id,
})

/** The columns a task statement returns as its TaskRef. */
export const TASK_REF_COLUMNS = 'rowid, task_id AS taskId, dataset_id AS datasetId, job_id AS jobId'

/** A task is ready when every task it depends on exists and is complete (`$taskId`: the task). */
const READY = `NOT EXISTS (
  SELECT 1 FROM task_depends d WHERE d.task_id = tasks.task_id
    AND NOT EXISTS (SELECT 1 FROM tasks p WHERE p.task_id = d.depends_on AND p.status = 'complete'))`
const SET_QUEUED = `json_set(doc, '$.status', 'queued', '$.status_changed', $now)`
const QUEUE_IF_READY = `
  UPDATE tasks SET doc = ${SET_QUEUED}
  WHERE task_id = $taskId AND status = 'waiting' AND ${READY}
  RETURNING ${TASK_REF_COLUMNS}, EXISTS (SELECT 1 FROM task_depends WHERE task_id = $taskId) AS hasDepends`
/**
 * The waiting tasks that depend on a task just completed, and nothing else
 * now; found through task_depends (the unary + keeps SQLite from walking every
 * waiting task on the status index instead).
 */
const QUEUE_READY_DEPENDENTS = `
  UPDATE tasks SET doc = ${SET_QUEUED}
  WHERE task_id IN (SELECT task_id FROM task_depends WHERE depends_on = $taskId) AND +status = 'waiting' AND ${READY}
  RETURNING ${TASK_REF_COLUMNS}`

export class Transitions {
  private readonly sqlite: Database
  private readonly newTaskReady: () => Statement<{ ready: number }> = lazy(() =>
    this.sqlite.prepare(`
      SELECT NOT EXISTS (SELECT 1 FROM json_each($depends) j
        WHERE NOT EXISTS (SELECT 1 FROM tasks p WHERE p.task_id = j.value AND p.status = 'complete')) AS ready`),
  )
  private readonly queueIfReady: () => Statement<TaskRef & { hasDepends: number }> = lazy(() => this.sqlite.prepare(QUEUE_IF_READY))
  private readonly queueReadyDependents: () => Statement<TaskRef> = lazy(() => this.sqlite.prepare(QUEUE_READY_DEPENDENTS))
  private readonly claimOf: () => Statement<{ status: string; instanceId: unknown }> = lazy(() =>
    this.sqlite.prepare(`SELECT status, json_extract(doc, '$.instance_id') AS instanceId FROM tasks WHERE task_id = $taskId`),
  )

  constructor(
    db: Db,
    private readonly history: HistoryService,
    /** The scheduler of §6 is on. */
    readonly scheduling: boolean,
  ) {
    this.sqlite = db.$client
  }

  /** A task went `from` → `to`; nothing is written when the status stayed the same. */
  task(task: TaskRef, from: string, to: string, by: Actor, reason?: string): void {
    if (from === to) return
    this.history.record({ kind: 'task', subject: task.rowid, from, to, by, reason })
    if (!this.scheduling) return
    if (to === 'complete') {
      for (const dependent of this.queueReadyDependents().all({ taskId: task.taskId, now: timestamp() })) {
        this.task(dependent, 'waiting', 'queued', SERVER, 'dependencies complete')
      }
    } else if (to === 'waiting') {
      const queued = this.queueIfReady().get({ taskId: task.taskId, now: timestamp() })
      if (queued) this.task(queued, 'waiting', 'queued', SERVER, queued.hasDepends ? 'dependencies complete' : 'no dependencies')
    }
  }

  job(job: JobRef, from: string, to: string, by: Actor, reason?: string): void {
    if (from === to) return
    this.history.record({ kind: 'job', subject: job.rowid, from, to, by, reason })
  }

  dataset(dataset: DatasetRef, from: string, to: string, by: Actor, reason?: string): void {
    if (from === to) return
    this.history.record({ kind: 'dataset', subject: dataset.rowid, from, to, by, reason })
  }

  /** The SQL of the follow-up queries, for query-plan checks. */
  queriesForPlanCheck(): { name: string; sql: string }[] {
    return [
      { name: 'queue if ready', sql: QUEUE_IF_READY },
      { name: 'queue ready dependents', sql: QUEUE_READY_DEPENDENTS },
    ]
  }

  /**
   * The status a new task starts in: with the scheduler, `queued` at once when
   * every task it depends on exists and is complete (none, for most); else `waiting`.
   */
  statusOfNewTask(depends: readonly string[]): 'waiting' | 'queued' {
    if (!this.scheduling) return 'waiting'
    if (depends.length === 0) return 'queued'
    return this.newTaskReady().get({ depends: JSON.stringify(depends) })?.ready ? 'queued' : 'waiting'
  }

  /**
   * With the scheduler, a pilot's answer (complete, reset) naming an
   * `instance_id` counts only while that claim holds: the task is processing
   * under that instance. Otherwise 409 (a late answer for a task taken back
   * and perhaps handed to another pilot); 404 when there is no such task.
   */
  checkClaim(taskId: string, instanceId: string | undefined): void {
    if (!this.scheduling || instanceId === undefined) return
    const task = this.claimOf().get({ taskId })
    if (!task) fail(404, `task ${taskId} not found`)
    if (task.status !== 'processing' || task.instanceId !== instanceId) {
      fail(409, `instance_id ${instanceId} is not the current claim of task ${taskId}`)
    }
  }
}
