/**
 * Roll-up (API.md §6.5): a job follows its tasks, a dataset its jobs. Each
 * method decides from the maintained counts (a job's `job_task_counts` row, a
 * dataset's `job_counts` rows), writes the new status when there is one, and
 * returns the change for Transitions to report. Only a job with nothing
 * active but waiting tasks reads those tasks, to see whether they can run.
 */
import type { ServerReason } from '../history/reasons'
import { SERVER, type HistoryService } from '../history/service'
import type { SchedulerQueries } from './queries'
import type { DatasetRef, JobRef } from './refs'

export interface Change<Ref> {
  ref: Ref
  from: string
  to: string
  reason: ServerReason
}

/** A job and its task counts by status, as the roll-up decides from them. */
export type JobState = NonNullable<ReturnType<SchedulerQueries['jobState']['get']>>
type DatasetState = NonNullable<ReturnType<SchedulerQueries['datasetState']['get']>>

/** Where a job stops: none of its tasks is active any more. */
const STOPPED = ['complete', 'errors', 'suspended']
/** What stops a waiting task: a failed or suspended task it waits for; null when nothing does. */
type Block = 'failed' | 'suspended' | null

export class RollUp {
  constructor(
    private readonly queries: SchedulerQueries,
    private readonly history: HistoryService,
    /** The time a change made now is stamped with. */
    private readonly now: () => string,
  ) {}

  /**
   * The job follows its tasks: all complete → complete; none active and any
   * failed → errors; none active, some suspended → suspended; an active task
   * in a stopped job → processing. Active: idle, waiting, queued,
   * processing, reset, except a waiting task that depends, directly or not,
   * on a failed or suspended task; such a task counts as failed (or
   * suspended) itself, even when what it waits for is in another job.
   */
  job(jobId: string): Change<JobRef> | undefined {
    const job = this.queries.jobState.get({ job_id: jobId })
    if (!job) return undefined
    const next = this.nextStatusOf(job)
    if (!next) return undefined
    this.queries.setJobStatus.run({ job_id: jobId, status: next[0], now: this.now() })
    return { ref: job, from: job.status, to: next[0], reason: next[1] }
  }

  /**
   * The status a job in this state moves to, and why; undefined when it
   * stays. The bulk actions decide the jobs they touch with it too.
   */
  nextStatusOf(job: JobState): [string, ServerReason] | undefined {
    const next = this.jobStatusOf(job)
    if (!next || next[0] === job.status) return undefined
    // A job a client moved elsewhere (failed, processing by hand) is moved only when its tasks call for it.
    if (next[0] === 'processing' && !STOPPED.includes(job.status)) return undefined
    return next
  }

  private jobStatusOf(job: JobState): [string, ServerReason] | undefined {
    const c = (n: number | null) => n ?? 0
    const total = c(job.idle) + c(job.waiting) + c(job.queued) + c(job.processing) + c(job.reset) + c(job.suspended) + c(job.failed) + c(job.complete)
    if (total === 0) return undefined
    if (c(job.complete) === total) return ['complete', 'all tasks complete']
    const active = c(job.idle) + c(job.queued) + c(job.processing) + c(job.reset)
    if (active > 0) return ['processing', 'a task is active again']
    // Only waiting tasks are left active, if they can run.
    const waiting = c(job.waiting) > 0 ? this.waitingBlockedBy(job) : undefined
    if (waiting === 'nothing') return ['processing', 'a task is active again']
    if (c(job.failed) > 0 || waiting === 'failed') return ['errors', 'tasks failed, none active']
    if (c(job.suspended) > 0 || waiting === 'suspended') return ['suspended', 'tasks suspended, none active']
    return undefined
  }

  /**
   * What holds the job's waiting tasks: `nothing` when one of them can still
   * run; otherwise `failed` when one waits, directly or through other waiting
   * tasks (of any job), for a failed task, else `suspended`.
   */
  private waitingBlockedBy(job: JobState): 'nothing' | 'failed' | 'suspended' {
    const known = new Map<string, Block>()
    const blockOf = (taskId: string): Block => {
      const seen = known.get(taskId)
      if (seen !== undefined) return seen
      known.set(taskId, null) // a cycle of waiting tasks blocks nothing by itself
      let block: Block = null
      for (const { status } of this.queries.dependencies.all({ task_id: taskId })) {
        if (status === 'failed') block = 'failed'
        else if (status === 'suspended') block ??= 'suspended'
      }
      for (const { task_id: upstream } of this.queries.waitingDependencies.all({ task_id: taskId })) {
        if (block === 'failed') break
        const above = blockOf(upstream)
        if (above === 'failed') block = 'failed'
        else if (above === 'suspended') block ??= 'suspended'
      }
      known.set(taskId, block)
      return block
    }
    let result: 'failed' | 'suspended' = 'suspended'
    for (const { task_id } of this.queries.waitingOfJob.all({ dataset_id: job.dataset_id, job_index: job.job_index, job_id: job.job_id })) {
      const block = blockOf(task_id)
      if (block === null) return 'nothing'
      if (block === 'failed') result = 'failed'
    }
    return result
  }

  /**
   * A processing dataset whose jobs_submitted jobs all exist, or a truncated
   * one, follows its jobs: all complete → complete; none processing and any
   * errors → errors; none processing otherwise → suspended. So does one the
   * roll-up stopped (complete, errors, suspended by the server): it moves
   * between those as its jobs do, and back to the status it was stopped
   * from when a job is processing again. One a client stopped stays.
   */
  dataset(datasetId: string): Change<DatasetRef> | undefined {
    const dataset = this.queries.datasetState.get({ dataset_id: datasetId })
    if (!dataset) return undefined
    const following = this.followedStatus(dataset)
    if (!following) return undefined
    const counts: Record<string, number> = {}
    let total = 0
    for (const row of this.queries.jobCounts.all({ dataset_id: datasetId })) {
      counts[row.status] = row.n
      total += row.n
    }
    if (total === 0) return undefined
    if (following === 'processing' && typeof dataset.jobs_submitted === 'number' && total < dataset.jobs_submitted) return undefined
    const next: [string, ServerReason] =
      counts.complete === total ? ['complete', 'all jobs complete']
      : counts.processing ? [following, 'a job is processing again']
      : counts.errors ? ['errors', 'jobs have errors, none processing']
      : ['suspended', 'jobs stopped, none processing']
    if (next[0] === dataset.status) return undefined
    this.queries.setDatasetStatus.run({ dataset_id: datasetId, status: next[0] })
    return { ref: dataset, from: dataset.status, to: next[0], reason: next[1] }
  }

  /**
   * A dataset the roll-up stopped (complete, errors, or suspended by the
   * server) that has work again (a job processing again, or more jobs to
   * make than exist): back to the status it was stopped from (processing or
   * truncated). A dataset a client stopped stays so until a client resumes it.
   */
  reopen(datasetId: string, reason: ServerReason): Change<DatasetRef> | undefined {
    const dataset = this.queries.datasetState.get({ dataset_id: datasetId })
    if (!dataset || !STOPPED.includes(dataset.status)) return undefined
    if (reason === 'more jobs to make' && !(typeof dataset.jobs_submitted === 'number' && dataset.jobs_submitted > this.jobTotal(datasetId))) return undefined
    const following = this.followedStatus(dataset)
    if (!following) return undefined
    this.queries.setDatasetStatus.run({ dataset_id: datasetId, status: following })
    return { ref: dataset, from: dataset.status, to: following, reason }
  }

  /**
   * The status whose roll-up rule a dataset follows: its own when processing
   * or truncated; for one the server stopped, the status it was stopped
   * from, found past the server's later moves between stopped statuses
   * (errors → suspended → complete …); undefined for one a client set.
   */
  private followedStatus(dataset: DatasetState): 'processing' | 'truncated' | undefined {
    if (dataset.status === 'processing' || dataset.status === 'truncated') return dataset.status
    if (!STOPPED.includes(dataset.status)) return undefined
    const stop = this.history.lastOutside('dataset', dataset.rowid, STOPPED)
    if (!stop || stop.by !== SERVER || !STOPPED.includes(stop.to)) return undefined
    return stop.from === 'processing' || stop.from === 'truncated' ? stop.from : undefined
  }

  private jobTotal(datasetId: string): number {
    let total = 0
    for (const row of this.queries.jobCounts.all({ dataset_id: datasetId })) total += row.n
    return total
  }
}
