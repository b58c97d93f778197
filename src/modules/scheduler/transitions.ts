/**
 * Status transitions: every service that changes the status of a dataset,
 * job or task reports the change here, inside the transaction that made it.
 * Each change is written to the status history (§7.1). With the scheduler
 * on (§6), the changes it calls for follow in the same transaction, each
 * reported here in turn: a waiting task whose dependencies are all complete
 * is queued (§6.2); a reset task runs again, or fails, or is suspended
 * (§6.3), also one taken back from its pilot (§6.4); a complete task that
 * runs again sends its dependents back to waiting; and the jobs whose tasks
 * changed, then their datasets, roll up (§6.5), each job once after all the
 * task changes of one report.
 */
import type { Clock } from '../../clock'
import type { Db } from '../../db'
import { newId, timestamp } from '../../db/documents'
import { fail } from '../../errors'
import type { ServerReason } from '../history/reasons'
import { SERVER, type Actor, type HistoryService } from '../history/service'
import { schedulerQueries } from './queries'
import { BLOCKING, STEADILY_ACTIVE, type DatasetRef, type FailureReport, type JobRef, type TaskRef } from './refs'
import { Retries, type Step } from './retries'
import { RollUp } from './rollup'

/** The fields of instanceOfNewTask without the scheduler. */
const NO_INSTANCE: { instance_id?: string } = Object.freeze({})

export interface SchedulerOptions {
  /** The scheduler of §6 is on. */
  scheduling: boolean
  /** The failures a task may have, for datasets without `max_failures`. */
  maxFailures: number
  /** The time every status change is stamped with. */
  clock: Clock
}

export class Transitions {
  private readonly queries

  /** The scheduler of §6 is on. */
  readonly scheduling: boolean
  /** The app's clock (tests set it). */
  readonly clock: Clock
  private readonly rollUp: RollUp
  private readonly retries: Retries
  /** The jobs whose tasks changed in the report being followed, rolled up once it is. */
  private touchedJobs: Set<string> | undefined
  /** Told when a dataset may have jobs to make: resumed, a job finished, more jobs submitted (the materializer listens). */
  onMoreWork: (datasetId: string) => void = () => {}

  constructor(
    db: Db,
    private readonly history: HistoryService,
    options: SchedulerOptions,
  ) {
    this.queries = schedulerQueries(db)
    this.scheduling = options.scheduling
    this.clock = options.clock
    this.rollUp = new RollUp(this.queries, history, () => this.now())
    this.retries = new Retries(this.queries, options.maxFailures, () => this.now())
  }

  /** The time a status change made now is stamped with (`status_changed`, `last_update`), in IceProd's form. */
  now(): string {
    return timestamp(this.clock())
  }

  /**
   * A task went `from` → `to`; nothing is written when the status stayed the
   * same. `failure` is what the reset action reported with it.
   */
  task(task: TaskRef, from: string, to: string, by: Actor, reason?: string, failure?: FailureReport): void {
    // Between two steadily active statuses (a claim, most often) there is nothing to follow.
    if (!this.scheduling || (STEADILY_ACTIVE.includes(from) && STEADILY_ACTIVE.includes(to) && to !== 'reset')) {
      if (from !== to) this.history.record({ kind: 'task', subject: task.rowid, from, to, by, reason })
      return
    }
    this.rollingUp(() => this.taskChanged(task, from, to, by, reason, failure))
  }

  /**
   * Tasks were created in the job that may change its status: in a job that
   * is not processing (it may have to be again), or waiting (they may wait
   * for a failed or suspended task, and so not count as active, §6.5).
   */
  tasksCreated(jobId: string): void {
    if (this.scheduling) this.rollingUp(() => this.touchedJobs!.add(jobId))
  }

  /**
   * A task's `depends` changed (a PATCH, after the status it sets): waiting,
   * it is queued when ready now; queued, it waits again when it is not (a
   * claim must not hand it out before what it waits for completes). It may
   * now wait for a failed or suspended task, or no longer, and so may the
   * tasks waiting for it: its job and theirs roll up.
   */
  dependsChanged(task: TaskRef): void {
    if (!this.scheduling) return
    this.rollingUp(() => {
      this.touchedJobs!.add(task.job_id)
      for (const { job_id } of this.queries.jobsDownstream.all({ task_id: task.task_id, job_id: task.job_id })) this.touchedJobs!.add(job_id)
      const unqueued = this.queries.unqueueIfNotReady.get({ task_id: task.task_id, now: this.now() })
      if (unqueued) this.taskChanged(unqueued, 'queued', 'waiting', SERVER, 'dependencies not complete')
      else this.queueIfReady(task)
    })
  }

  /** Runs `follow`, then rolls up each job it touched (once), unless an outer report will. */
  private rollingUp(follow: () => void): void {
    if (this.touchedJobs) return follow()
    const touched = (this.touchedJobs = new Set())
    try {
      follow()
      for (const jobId of touched) {
        const change = this.rollUp.job(jobId)
        if (change) this.job(change.ref, change.from, change.to, SERVER, change.reason)
      }
    } finally {
      this.touchedJobs = undefined
    }
  }

  private taskChanged(task: TaskRef, from: string, to: string, by: Actor, reason?: string, failure?: FailureReport): void {
    if (from !== to) this.history.record({ kind: 'task', subject: task.rowid, from, to, by, reason })
    // A reset task moves on (§6.3), even one reset already (left so by the scheduler being off).
    if (to === 'reset') return this.follow(task, from, this.retried(task, this.retries.moveOn(task.task_id, failure)))
    this.follow(task, from, to)
  }

  /** Records a reset task's steps; where it ended. */
  private retried(task: TaskRef, steps: Step[]): string {
    for (const step of steps) this.history.record({ kind: 'task', subject: task.rowid, from: step.from, to: step.to, by: SERVER, reason: step.reason })
    return steps.at(-1)?.to ?? 'reset'
  }

  /** What a task going `from` → `to` calls for: its job's roll-up, its dependents, its queueing. */
  private follow(task: TaskRef, from: string, to: string): void {
    if (from === to) return
    // Between two statuses that are active whatever the task waits for, the job's status cannot change.
    const { queries } = this
    const values = { task_id: task.task_id, now: this.now() }
    if (!(STEADILY_ACTIVE.includes(from) && STEADILY_ACTIVE.includes(to))) this.touchedJobs!.add(task.job_id)
    if (BLOCKING.includes(from) || BLOCKING.includes(to)) {
      // Tasks of other jobs waiting for this one may be blocked, or free, now.
      for (const { job_id } of queries.jobsDownstream.all({ task_id: task.task_id, job_id: task.job_id })) this.touchedJobs!.add(job_id)
    }
    if (to === 'complete') {
      for (const dependent of queries.queueReadyDependents.all(values)) this.taskChanged(dependent, 'waiting', 'queued', SERVER, 'dependencies complete')
    }
    if (from === 'complete') {
      for (const dependent of queries.unqueueDependents.all(values)) this.taskChanged(dependent, 'queued', 'waiting', SERVER, 'a dependency runs again')
    }
    if (to === 'waiting') this.queueIfReady(task)
  }

  /** A waiting task whose dependencies are all complete is queued (§6.2). */
  private queueIfReady(task: TaskRef): void {
    const queued = this.queries.queueIfReady.get({ task_id: task.task_id, now: this.now() })
    if (!queued) return
    const reason = this.queries.hasDepends.get({ task_id: task.task_id }) ? 'dependencies complete' : 'no dependencies'
    this.taskChanged(queued, 'waiting', 'queued', SERVER, reason)
  }

  /**
   * The failures a task of a dataset with this `max_failures` may have (§6.3).
   */
  failureLimit(maxFailures: unknown): number {
    return this.retries.failureLimit(maxFailures)
  }

  /**
   * With the scheduler, tasks taken back from a pilot that is gone (deleted,
   * timed out) or that no pilot lists any more (§6.4): each one still
   * processing is reset with `evictions` + 1, its failures unchanged, and
   * moves on as any reset does. Returns how many were reset.
   */
  evict(taskIds: Iterable<string>, reason: ServerReason): number {
    if (!this.scheduling) return 0
    let evicted = 0
    for (const taskId of taskIds) {
      const taken = this.retries.evict(taskId)
      if (!taken) continue
      this.rollingUp(() => {
        this.history.record({ kind: 'task', subject: taken.task.rowid, from: 'processing', to: 'reset', by: SERVER, reason })
        this.follow(taken.task, 'processing', this.retried(taken.task, taken.steps))
      })
      evicted++
    }
    return evicted
  }

  /** A job went `from` → `to`; with the scheduler its dataset follows (§6.5). */
  job(job: JobRef, from: string, to: string, by: Actor, reason?: string): void {
    if (from === to) return
    this.history.record({ kind: 'job', subject: job.rowid, from, to, by, reason })
    if (!this.scheduling) return
    const change = to === 'processing' ? this.rollUp.reopen(job.dataset_id, 'a job is processing again') : this.rollUp.dataset(job.dataset_id)
    if (change) this.dataset(change.ref, change.from, change.to, SERVER, change.reason)
    // A job that finished makes room in the dataset's buffer of processing jobs.
    if (from === 'processing') this.onMoreWork(job.dataset_id)
  }

  /** A job was created: a dataset the roll-up stopped has work again. */
  jobCreated(datasetId: string): void {
    if (!this.scheduling) return
    const change = this.rollUp.reopen(datasetId, 'a job is processing again')
    if (change) this.dataset(change.ref, change.from, change.to, SERVER, change.reason)
  }

  /**
   * The dataset's jobs_submitted changed: one the roll-up stopped with jobs
   * still to make is reopened, and more are made; one whose jobs are now all
   * there follows them (§6.5).
   */
  jobsSubmittedChanged(datasetId: string): void {
    if (!this.scheduling) return
    const change = this.rollUp.reopen(datasetId, 'more jobs to make')
    if (change) this.dataset(change.ref, change.from, change.to, SERVER, change.reason)
    this.datasetFollowsJobs(datasetId)
    this.onMoreWork(datasetId)
  }

  /**
   * With the scheduler, after a client's change of a dataset's status or of
   * many of its jobs at once: the dataset reopens when `reopened` (a job is
   * processing again), then follows its jobs (§6.5), and jobs are made when
   * `stopped` (a job left processing, making room in the buffer).
   */
  datasetFollowsJobs(datasetId: string, { reopened = false, stopped = false } = {}): void {
    if (!this.scheduling) return
    if (reopened) {
      const change = this.rollUp.reopen(datasetId, 'a job is processing again')
      if (change) this.dataset(change.ref, change.from, change.to, SERVER, change.reason)
    }
    const change = this.rollUp.dataset(datasetId)
    if (change) this.dataset(change.ref, change.from, change.to, SERVER, change.reason)
    if (stopped) this.onMoreWork(datasetId)
  }

  /** A dataset went `from` → `to`; with the scheduler a dataset processing again gets more jobs made. */
  dataset(dataset: DatasetRef, from: string, to: string, by: Actor, reason?: string): void {
    if (from === to) return
    this.history.record({ kind: 'dataset', subject: dataset.rowid, from, to, by, reason })
    if (this.scheduling && to === 'processing') this.onMoreWork(dataset.dataset_id)
  }

  /**
   * The status a new task starts in: with the scheduler, `queued` at once when
   * every task it depends on exists and is complete (none, for most); else `waiting`.
   */
  statusOfNewTask(depends: readonly string[]): 'waiting' | 'queued' {
    if (!this.scheduling) return 'waiting'
    if (depends.length === 0) return 'queued'
    return this.queries.notComplete.get({ depends: JSON.stringify(depends) }) ? 'waiting' : 'queued'
  }

  /**
   * The `instance_id` a new task is made with: with the scheduler, a fresh one
   * in the form every claim writes, so that a claim replaces an id of the
   * same length and leaves the document its length and its page (tasks are
   * made by appends, their pages packed full). Never a claim's: the task is
   * not processing. Without the scheduler, none (a client's own stays).
   * Spread last into the new task's document.
   */
  instanceOfNewTask(): { instance_id?: string } {
    return this.scheduling ? { instance_id: newId() } : NO_INSTANCE
  }

  /**
   * With the scheduler, a pilot's answer (complete, reset) naming an
   * `instance_id` counts only while that claim holds: the task is processing
   * under that instance. Otherwise 409 (a late answer for a task taken back
   * and perhaps handed to another pilot); 404 when there is no such task.
   */
  checkClaim(taskId: string, instanceId: string | undefined): void {
    if (!this.scheduling || instanceId === undefined) return
    const task = this.queries.claimOf.get({ task_id: taskId })
    if (!task) fail(404, `task ${taskId} not found`)
    if (task.status !== 'processing' || task.instance_id !== instanceId) {
      fail(409, `instance_id ${instanceId} is not the current claim of task ${taskId}`)
    }
  }
}

