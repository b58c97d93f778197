/**
 * Progress and queue diagnostics (API.md §7.3). Progress is read from
 * maintained counts only: job and task counts by status (job_counts,
 * task_counts), completions per minute (task_completions, at most 60 rows a
 * dataset), the dataset document and the length of its config's tasks list;
 * never from the dataset's tasks or its history. The diagnostics compare the
 * dataset's queued tasks (task_queue, the dataset's range of its index) with
 * the summary of the last hour's offers (OfferLog).
 */
import type { Clock } from '../../clock'
import type { Db } from '../../db'
import { LATEST_TIMESTAMP_MS, timestamp } from '../../db/documents'
import { fail } from '../../errors'
import { inStatusOrder, JOB_STATUSES, TASK_STATUSES } from '../../status'
import { NUMERIC_KEYS, type Json } from '../queue/requirements'
import { isTasksPerJob } from '../datasets/model'
import { canonicalJson, type OfferLog, type OfferSummary } from './offers'
import type { ProgressModel } from './model'
import { progressQueries } from './queries'

export type Progress = typeof ProgressModel.progress.static
export type QueueDiagnostics = typeof ProgressModel.queueDiagnostics.static

/** Below every number: with no offer in the hour, every stated numeric requirement counts as unmet. */
const NO_BOUND = -Number.MAX_VALUE

const isPositiveInteger = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value > 0

export class ProgressService {
  private readonly queries

  constructor(
    db: Db,
    private readonly offers: OfferLog,
    private readonly clock: Clock,
  ) {
    this.queries = progressQueries(db)
  }

  /**
   * Counts by status, the tasks expected (jobs_submitted × the tasks per
   * job: the config's tasks, else the dataset's tasks_per_job; without
   * either, tasks_submitted), the completions of the last hour (this minute
   * and the 59 before), and the ETA at that rate.
   */
  progress(datasetId: string): Progress {
    const dataset = this.dataset(datasetId)
    const taskCounts = this.counts(this.queries.taskCounts, TASK_STATUSES, datasetId)
    const perJob = isPositiveInteger(dataset.config_tasks) ? dataset.config_tasks : isTasksPerJob(dataset.tasks_per_job) ? dataset.tasks_per_job : undefined
    const tasksExpected =
      typeof dataset.jobs_submitted === 'number' && perJob !== undefined ? dataset.jobs_submitted * perJob
      : typeof dataset.tasks_submitted === 'number' ? dataset.tasks_submitted
      : Object.values(taskCounts).reduce((a, b) => a + b, 0)
    const now = this.clock()
    const completed = this.queries.completed.get({ dataset_id: datasetId, minute: Math.floor(now / 60_000) })!.n
    const remaining = Math.max(0, tasksExpected - (taskCounts.complete ?? 0))
    const eta = completed > 0 && remaining > 0 ? now + (remaining * 3600 * 1000) / completed : undefined
    return {
      jobs: this.counts(this.queries.jobCounts, JOB_STATUSES, datasetId),
      tasks: taskCounts,
      tasks_expected: tasksExpected,
      completed_last_hour: completed,
      // Past what a timestamp can write is as good as never.
      eta: eta !== undefined && eta <= LATEST_TIMESTAMP_MS ? timestamp(eta) : null,
    }
  }

  /**
   * The dataset's queued tasks, the offers of the last hour, and for each
   * requirement key the queued tasks whose requirement on that key no offer
   * of the hour met (keys with none left out, most unmet first).
   */
  queueDiagnostics(datasetId: string): QueueDiagnostics {
    const { rowid } = this.dataset(datasetId)
    const offered = this.offers.lastHour()
    const bounds: Record<string, number> = {}
    for (const key of NUMERIC_KEYS) bounds[key] = offered.offers === 0 ? NO_BOUND : Math.max(0, offered.largest.get(key) ?? 0)
    const numeric = this.queries.numericUnmatched.get({ dataset: rowid, ...bounds })! as Record<string, number>
    const unmatched = new Map<string, number>()
    for (const key of NUMERIC_KEYS) if (numeric[key]! > 0) unmatched.set(key, numeric[key]!)
    for (const { requirements, n } of this.queries.otherRequirements.all({ dataset: rowid })) {
      for (const [key, required] of Object.entries(JSON.parse(requirements) as Record<string, Json>)) {
        // Numbers under the numeric keys were counted from their columns above.
        if (required === null || ((NUMERIC_KEYS as readonly string[]).includes(key) && typeof required === 'number')) continue
        if (!metByAny(required, key, offered)) unmatched.set(key, (unmatched.get(key) ?? 0) + n)
      }
    }
    return {
      queued: numeric.queued!,
      offers_last_hour: offered.offers,
      unmatched: Object.fromEntries([...unmatched].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    }
  }

  /** `{status: count}` in status order, from a counts table. */
  private counts(query: ReturnType<typeof progressQueries>['taskCounts'], order: readonly string[], datasetId: string): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const row of query.all({ dataset_id: datasetId })) counts[row.status] = row.n
    return inStatusOrder(order, counts)
  }

  private dataset(datasetId: string) {
    return this.queries.dataset.get({ dataset_id: datasetId }) ?? fail(404, `dataset ${datasetId} not found`)
  }
}

/** Whether some offer of the summary met a (non-null) requirement on `key`, as `meets` decides for one offer. */
function metByAny(required: Json, key: string, offered: OfferSummary): boolean {
  if (offered.offers === 0) return false
  if (typeof required === 'number') return required <= 0 || (offered.largest.get(key) ?? -Infinity) >= required
  const values = offered.values.get(key)
  if (!values) return false
  if (Array.isArray(required)) return required.some((choice) => values.has(canonicalJson(choice)))
  return values.has(canonicalJson(required))
}
