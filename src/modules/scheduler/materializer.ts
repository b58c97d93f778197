/**
 * Materialization (API.md §6.1): a processing dataset whose config has tasks
 * gets its jobs and tasks from the server, job_index 0, 1, 2, … until
 * `jobs_submitted` jobs exist, with at most `bufferJobs` of them processing
 * at once.
 *
 * The work runs in the background, one dataset at a time, in write
 * transactions of at most 1,000 jobs that also stop after a few milliseconds,
 * with a turn of the event loop between them, so that requests go on being
 * answered. Each transaction also moves the dataset's cursor (the
 * `materialization` table) past the jobs it made: after a crash or restart
 * the work resumes at the cursor, and the (dataset_id, job_index) unique
 * index makes a job_index twice impossible anyway. Indexes that already have
 * a job (made by a client) are skipped.
 */
import { writeTx, type Db } from '../../db'
import { unavailability } from '../../db/faults'
import { realTimer, type LockTimer } from '../../db/write-lock'
import { newId } from '../../db/documents'
import { schedulerQueries, type SchedulerQueries } from './queries'
import { planTasks, type TaskTemplate } from './task-plan'
import type { Transitions } from './transitions'

/** Most jobs one transaction makes. */
const MAX_JOBS_PER_TRANSACTION = 1000
/** A transaction stops making jobs after this long, to let requests in. */
const SLICE_MS = 8

type DatasetState = NonNullable<ReturnType<SchedulerQueries['materialization']['get']>>

export interface MaterializerOptions {
  /** Most jobs of one dataset processing at once. */
  bufferJobs: number
  /** Told about every problem that stops a dataset's materialization (a config that no longer reads). */
  warn: (message: string, datasetId: string) => void
  /** What the pause after a refused transaction is made with: the database's lock timer (tests inject one); real timers by default. */
  lockTimer?: LockTimer
}

/** Datasets whose config's plan is kept between steps, at most: past it the oldest is read again when its turn comes. */
export const KEPT_PLANS = 64

/** The pause before materialization tries again after the database refused a transaction. */
const RETRY_AFTER_MS = 1000

export class Materializer {
  private readonly queries
  /** Datasets that may have jobs to make, in the order they asked. */
  private readonly pending = new Set<string>()
  private scheduled: ReturnType<typeof setImmediate> | undefined
  /** Cancels the pause after a transaction the database refused (see retryLater); a stop cancels it. */
  private retry: AbortController | undefined
  /** The dataset of the step under way (its transaction may wait for another process's write lock). */
  private running: string | undefined
  /** That dataset was poked meanwhile: what the step saw may be out of date, so it goes again. */
  private pokedWhileRunning = false
  private stopped = false
  private waiters: (() => void)[] = []
  /** Jobs and tasks made since start, for /metrics. */
  readonly made = { jobs: 0, tasks: 0 }
  /** Each dataset's plan with the hash of the config text it was read from, so that a step reads the config again only when it changed. */
  private readonly plans = new Map<string, { configHash: number | bigint; plan: TaskTemplate[] | undefined }>()
  private plansRead = 0

  constructor(
    private readonly db: Db,
    private readonly transitions: Transitions,
    private readonly options: MaterializerOptions,
  ) {
    this.queries = schedulerQueries(db)
  }

  /** Configs read into a plan since start. */
  get configsPlanned(): number {
    return this.plansRead
  }

  /** Datasets whose plan is kept now. */
  keptPlans(): number {
    return this.plans.size
  }

  /** Whether a string is the id of an existing task. */
  readonly taskExists = (taskId: string): boolean => this.queries.taskExists.get({ task_id: taskId }) !== undefined

  /** Picks up every processing dataset with a config: what a restart interrupted goes on. */
  start(): void {
    for (const { dataset_id } of this.queries.resumable.all()) this.pending.add(dataset_id)
    this.schedule()
  }

  /** The dataset may have jobs to make now (a config, more jobs_submitted, a resume, a job finished). */
  poke(datasetId: string): void {
    if (this.stopped) return
    if (datasetId === this.running) this.pokedWhileRunning = true
    this.pending.add(datasetId)
    this.schedule()
  }

  /** Resolves once nothing is left to make (for tests and shutdown). */
  idle(): Promise<void> {
    if (this.pending.size === 0 && this.scheduled === undefined && this.retry === undefined && this.running === undefined) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** No more work starts; what is committed stays. */
  stop(): void {
    this.stopped = true
    if (this.scheduled !== undefined) clearImmediate(this.scheduled)
    this.scheduled = undefined
    // A pending pause would keep a stopped process alive until it ends.
    this.retry?.abort()
    this.retry = undefined
    this.pending.clear()
    this.settle()
  }

  /** After a refused transaction: the work goes on after a pause, as a request's client would retry. */
  private retryLater(): void {
    const retry = new AbortController()
    this.retry = retry
    void (this.options.lockTimer ?? realTimer).sleep(RETRY_AFTER_MS, retry.signal).then(() => {
      if (this.retry !== retry) return
      this.retry = undefined
      this.schedule()
    })
  }

  private schedule(): void {
    if (this.scheduled !== undefined || this.retry !== undefined || this.running !== undefined || this.stopped) return
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined
      void this.step()
    })
  }

  /** One transaction's worth for the first pending dataset; it stays pending while it has more to make. */
  private async step(): Promise<void> {
    const datasetId = this.pending.values().next().value
    if (datasetId === undefined) return this.settle()
    this.running = datasetId
    this.pokedWhileRunning = false
    let more = false
    let unavailable = false
    try {
      more = await this.makeSome(datasetId)
    } catch (error) {
      // The write lock stayed taken by another process, or the disk is full: nothing was written; try again shortly.
      if (unavailability(error) !== undefined) unavailable = true
      else if (!this.stopped) this.options.warn(`materialization stopped: ${(error as Error).message}`, datasetId)
    }
    this.running = undefined
    this.pending.delete(datasetId)
    // To the back of the line: datasets take turns.
    if ((more || unavailable || this.pokedWhileRunning) && !this.stopped) this.pending.add(datasetId)
    if (unavailable && !this.stopped) this.retryLater()
    else if (this.pending.size > 0) this.schedule()
    else this.settle()
  }

  private settle(): void {
    if (this.pending.size > 0 || this.scheduled !== undefined || this.retry !== undefined || this.running !== undefined) return
    const waiters = this.waiters
    this.waiters = []
    for (const resolve of waiters) resolve()
  }

  /**
   * Makes the dataset's next jobs in one transaction; whether more remain to
   * make now (false when the dataset is done, stopped, or its buffer is full).
   */
  private async makeSome(datasetId: string): Promise<boolean> {
    const made = { jobs: 0, tasks: 0 }
    // Most pokes find nothing to make (a dataset without a config, a full
    // buffer): a read tells without taking the write lock.
    if (!this.toMake(datasetId)) return false
    /** The step made the dataset's last job: its plan is needed no more. */
    let finished = false
    const more = await writeTx(this.db, () => {
      if (this.stopped) return false
      const started = performance.now()
      const work = this.toMake(datasetId)
      if (!work) return false
      const { state, plan, wanted, left } = work
      const limit = Math.min(wanted, MAX_JOBS_PER_TRANSACTION)
      let jobIndex = state.next_index ?? 0
      const now = this.transitions.now()
      while (made.jobs < limit && performance.now() - started < SLICE_MS) {
        if (!this.queries.indexTaken.get({ dataset_id: datasetId, job_index: jobIndex })) {
          made.tasks += this.makeJob(datasetId, jobIndex, plan, now)
          made.jobs++
        }
        jobIndex++
      }
      this.queries.saveCursor.run({ dataset_id: datasetId, next_index: jobIndex })
      finished = made.jobs === left
      return made.jobs < wanted
    })
    if (finished) this.plans.delete(datasetId)
    this.made.jobs += made.jobs
    this.made.tasks += made.tasks
    return more
  }

  /** What the dataset has to make now: its state, its config's plan, how many jobs now and how many in all; undefined when nothing. */
  private toMake(datasetId: string): { state: DatasetState; plan: TaskTemplate[]; wanted: number; left: number } | undefined {
    const state = this.queries.materialization.get({ dataset_id: datasetId })
    if (!state || state.status !== 'processing' || state.config === null || typeof state.jobs_submitted !== 'number') {
      this.plans.delete(datasetId)
      return undefined
    }
    let total = 0
    let processing = 0
    for (const row of this.queries.jobCounts.all({ dataset_id: datasetId })) {
      total += row.n
      if (row.status === 'processing') processing = row.n
    }
    const left = state.jobs_submitted - total
    if (left <= 0) {
      this.plans.delete(datasetId)
      return undefined
    }
    const wanted = Math.min(left, this.options.bufferJobs - processing)
    if (wanted <= 0) return undefined
    const plan = this.planOf(datasetId, state.config)
    return plan ? { state, plan, wanted, left } : undefined
  }

  /** The plan of the dataset's config text: the kept one while the text is the same, else read anew (and kept). */
  private planOf(datasetId: string, config: string): TaskTemplate[] | undefined {
    const configHash = Bun.hash(config)
    const kept = this.plans.get(datasetId)
    if (kept?.configHash === configHash) return kept.plan
    const plan = planTasks(JSON.parse(config) as Record<string, unknown>, this.taskExists)
    this.plansRead++
    this.plans.delete(datasetId)
    if (this.plans.size >= KEPT_PLANS) this.plans.delete(this.plans.keys().next().value as string)
    this.plans.set(datasetId, { configHash, plan })
    return plan
  }

  /** One job and its tasks, looking exactly like those POST /jobs and POST /tasks make; returns the tasks made. */
  private makeJob(datasetId: string, jobIndex: number, plan: TaskTemplate[], now: string): number {
    const jobId = newId()
    this.queries.insertJob.run({ job_id: jobId, doc: JSON.stringify({ dataset_id: datasetId, job_index: jobIndex, job_id: jobId, status: 'processing', status_changed: now }) })
    const taskIds = plan.map(() => newId())
    /** A task waits for an existing task: it may be one that cannot run (failed, suspended), which stops the job. */
    let waitsOutside = false
    plan.forEach((template, taskIndex) => {
      const depends = template.depends.map((dependency) => (typeof dependency === 'number' ? taskIds[dependency]! : dependency))
      const status = depends.length === 0 ? 'queued' : template.depends.every((d) => typeof d === 'string') ? this.transitions.statusOfNewTask(depends) : 'waiting'
      if (status === 'waiting' && template.depends.some((d) => typeof d === 'string')) waitsOutside = true
      const doc = {
        dataset_id: datasetId,
        job_id: jobId,
        task_index: taskIndex,
        name: template.name,
        depends,
        requirements: template.requirements,
        task_id: taskIds[taskIndex],
        job_index: jobIndex,
        status,
        status_changed: now,
        failures: 0,
        evictions: 0,
        walltime: 0.0,
        walltime_err: 0.0,
        walltime_err_n: 0,
        ...this.transitions.instanceOfNewTask(),
      }
      this.queries.insertTask.run({ task_id: taskIds[taskIndex]!, doc: JSON.stringify(doc) })
    })
    if (waitsOutside) this.transitions.tasksCreated(jobId)
    return plan.length
  }
}
