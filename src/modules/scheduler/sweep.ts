/**
 * The sweep for lost tasks (API.md §6.4), every `intervalSeconds`: pilots not
 * heard of for `pilotTimeoutSeconds` (when set) are deleted and their
 * processing tasks reset; then every processing task that no pilot lists and
 * that started more than `graceSeconds` ago is reset (evictions + 1).
 *
 * Neither step scans: stale pilots come from the index on their last_update,
 * old processing tasks from `processing_since` (the processing tasks by
 * status_changed), read on from the last entry seen, whether a pilot lists a
 * task from pilot_tasks. The work is
 * done in short transactions (a few milliseconds each, at most a few hundred
 * rows) with a turn of the event loop between them, so requests go on being
 * answered during a sweep.
 */
import type { Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { timestamp } from '../../db/documents'
import { schedulerQueries } from './queries'
import type { Transitions } from './transitions'

export interface SweepOptions {
  /** Seconds between sweeps; 0: no sweeps on a timer. */
  intervalSeconds: number
  graceSeconds: number
  /** 0: pilots are never deleted for silence. */
  pilotTimeoutSeconds: number
  /** The app's clock. */
  clock: Clock
  /** Where a timed sweep that failed is reported (the next one goes on). */
  warn: (message: string) => void
}

/** What one sweep did, how long it took, and its longest transaction (the longest a request could wait behind it). */
export interface SweepOutcome {
  pilotsDeleted: number
  tasksReset: number
  seconds: number
  longestStepSeconds: number
}

/** Rows one transaction looks at, at most. */
const ROWS_PER_TRANSACTION = 256
/** A transaction stops after this long, to let requests in. */
const SLICE_MS = 4

export class Sweep {
  private readonly queries
  private timer: ReturnType<typeof setInterval> | undefined
  private running: Promise<SweepOutcome> | undefined
  private stopped = false
  /** The sweeps run so far and the last one's outcome, for /metrics. */
  readonly done = { sweeps: 0, last: undefined as SweepOutcome | undefined }

  constructor(
    private readonly db: Db,
    private readonly transitions: Transitions,
    private readonly options: SweepOptions,
  ) {
    this.queries = schedulerQueries(db)
  }

  start(): void {
    if (this.options.intervalSeconds <= 0) return
    this.timer = setInterval(() => void this.runOnTimer(), this.options.intervalSeconds * 1000)
    // The timer never keeps the process alive on its own.
    this.timer.unref()
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
  }

  /**
   * A timed sweep: one that fails (the write lock held by another process
   * past ICEPROD_LOCK_TIMEOUT_MS, a full disk) is reported and left to the
   * next, which starts over; it never ends the server.
   */
  async runOnTimer(): Promise<void> {
    try {
      await this.run()
    } catch (error) {
      this.options.warn(`sweep for lost tasks stopped, the next one goes on: ${(error as Error).message}`)
    }
  }

  /** One sweep now; a sweep asked for while one runs is that one. */
  run(): Promise<SweepOutcome> {
    this.running ??= this.sweep().finally(() => (this.running = undefined))
    return this.running
  }

  private async sweep(): Promise<SweepOutcome> {
    const started = performance.now()
    const now = this.options.clock()
    const outcome: SweepOutcome = { pilotsDeleted: 0, tasksReset: 0, seconds: 0, longestStepSeconds: 0 }
    // With the scheduler off nothing is taken back or deleted, even by a sweep asked for.
    if (!this.transitions.scheduling) return outcome
    if (this.options.pilotTimeoutSeconds > 0) {
      const cutoff = timestamp(now - this.options.pilotTimeoutSeconds * 1000)
      while (!this.stopped && (await this.deleteStalePilots(cutoff, outcome))) await nextTurn()
    }
    const cutoff = timestamp(now - this.options.graceSeconds * 1000)
    const after = { since: '', taskId: '' }
    while (!this.stopped && (await this.resetLostTasks(cutoff, after, outcome))) await nextTurn()
    outcome.seconds = (performance.now() - started) / 1000
    this.done.sweeps++
    this.done.last = outcome
    return outcome
  }

  /**
   * One transaction of the sweep; `work` is given the time it began (its
   * slice is counted from there) and says whether there may be more. The
   * longest one, from its start to its commit, is kept in the outcome.
   */
  private async transaction(outcome: SweepOutcome, work: (began: number) => boolean): Promise<boolean> {
    let began = 0
    const more = await writeTx(this.db, () => work((began = performance.now())))
    outcome.longestStepSeconds = Math.max(outcome.longestStepSeconds, (performance.now() - began) / 1000)
    return more
  }

  /** One transaction's worth of stale pilots deleted with their tasks reset; whether there may be more. */
  private deleteStalePilots(cutoff: string, outcome: SweepOutcome): Promise<boolean> {
    return this.transaction(outcome, (started) => {
      const stale = this.queries.stalePilots.all({ cutoff, limit: ROWS_PER_TRANSACTION })
      for (const { pilot_id } of stale) {
        const taskIds = this.queries.tasksOfPilot.all({ pilot_id }).map((row) => row.task_id)
        this.queries.deletePilot.run({ pilot_id })
        outcome.pilotsDeleted++
        outcome.tasksReset += this.transitions.evict(taskIds, 'its pilot timed out')
        if (performance.now() - started > SLICE_MS) return true
      }
      return stale.length === ROWS_PER_TRANSACTION
    })
  }

  /** One transaction's worth of old processing tasks looked at, the unlisted ones reset; whether there may be more. */
  private resetLostTasks(cutoff: string, after: { since: string; taskId: string }, outcome: SweepOutcome): Promise<boolean> {
    return this.transaction(outcome, (started) => {
      const old = this.queries.oldProcessing.all({ cutoff, since: after.since, task_id: after.taskId, limit: ROWS_PER_TRANSACTION })
      for (const task of old) {
        after.since = task.since
        after.taskId = task.task_id
        if (!task.listed) outcome.tasksReset += this.transitions.evict([task.task_id], 'lost: no pilot lists it')
        if (performance.now() - started > SLICE_MS) return true
      }
      return old.length === ROWS_PER_TRANSACTION
    })
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))
