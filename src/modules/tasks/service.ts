/**
 * Tasks: creation, lookups, merges, status changes, filtered listings and
 * the per-dataset summaries. Documents are stored and returned as JSON text;
 * status counts come from the trigger-maintained `task_counts` table.
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { DatasetStatuses } from '../../db/dataset-statuses'
import { mergePatch, newId, timestamp, type Document } from '../../db/documents'
import { GroupCommit } from '../../db/group-commit'
import { mergedFetcher, type PageFetcher, type StoredRow } from '../../db/pages'
import { fail } from '../../errors'
import { checkStatus, inStatusOrder, TASK_STATUSES } from '../../status'
import type { Actor } from '../history/service'
import type { TaskRef } from '../scheduler/refs'
import type { Transitions } from '../scheduler/transitions'
import type { TaskModel } from './model'
import { pageKey, taskQueries, type PageFilter } from './queries'

export type NewTask = typeof TaskModel.create.static
export type TaskPatch = typeof TaskModel.patch.static
export type TaskStat = (typeof TaskModel.taskStats.static)[string]

/** Filters of a task listing; each one narrows the result. */
export interface TaskFilter {
  datasetId?: string
  statuses?: string[]
  jobId?: string
  jobIndex?: number
  gridId?: string
  name?: string
}

/** Keys a PATCH may not change: the task's identity and where it belongs. */
const FIXED_KEYS = ['task_id', 'dataset_id', 'job_id', 'job_index']

export class TaskService {
  private readonly queries
  private readonly statuses: DatasetStatuses
  private readonly creations: GroupCommit<NewTask, string>

  constructor(
    private readonly db: Db,
    private readonly transitions: Transitions,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = taskQueries(db)
    this.statuses = new DatasetStatuses(this.queries, TASK_STATUSES)
    // insert() reads, then writes with its one INSERT as its last step; with
    // the scheduler, the roll-up of a stopped job may follow it.
    this.creations = new GroupCommit(db, (body: NewTask) => this.insert(body), { singleStatement: !transitions.scheduling })
  }

  /**
   * Creates a task in its job, which must exist in the task's dataset (400);
   * resolves to the new id once committed. Concurrent creations share one
   * commit (see GroupCommit).
   */
  create(body: NewTask): Promise<string> {
    return this.creations.run(body)
  }

  /** One task insert, inside the caller's transaction; the INSERT is its only write. */
  private insert(body: NewTask): string {
    const job = this.queries.jobIndex.get({ job_id: body.job_id, dataset_id: body.dataset_id })
    if (!job) fail(400, `no such job: ${body.job_id} in dataset ${body.dataset_id}`)
    const taskId = newId()
    const status = this.transitions.statusOfNewTask(body.depends)
    const doc = {
      ...body,
      task_id: taskId,
      job_index: job.job_index,
      status,
      status_changed: timestamp(this.clock()),
      failures: 0,
      evictions: 0,
      walltime: 0.0,
      walltime_err: 0.0,
      walltime_err_n: 0,
      // With the scheduler, a client's own instance_id is replaced, as the other server fields are.
      ...this.transitions.instanceOfNewTask(),
    }
    this.queries.insert.run({ task_id: taskId, doc: JSON.stringify(doc) })
    if (job.job_status !== 'processing' || status === 'waiting') this.transitions.tasksCreated(body.job_id)
    return taskId
  }

  /** The stored task document (JSON text); 404 when missing or, given a dataset, in another dataset. */
  get(taskId: string, datasetId?: string): string {
    const row = datasetId === undefined ? this.queries.doc.get({ task_id: taskId }) : this.queries.docInDataset.get({ task_id: taskId, dataset_id: datasetId })
    return row?.doc ?? fail(404, `task ${taskId} not found`)
  }

  /** Merges `patch` into the task (see API.md §1) and returns the updated document as JSON text. */
  patch(taskId: string, patch: TaskPatch, by: Actor): Promise<string> {
    return writeTx(this.db, () => {
      const state = this.state(taskId)
      const merged = mergePatch(JSON.parse(state.doc) as Document, patch, FIXED_KEYS)
      if ('status' in patch) {
        checkStatus(TASK_STATUSES, patch.status)
        merged.status_changed = timestamp(this.clock())
      }
      const doc = JSON.stringify(merged)
      this.queries.saveDoc.run({ task_id: taskId, doc })
      if ('status' in patch) this.transitions.task(state, state.status, patch.status as string, by)
      if ('depends' in patch) this.transitions.dependsChanged(state)
      // The scheduler may have moved the task on: answer with it as it is now.
      return this.transitions.scheduling && ('status' in patch || 'depends' in patch) ? this.get(taskId) : doc
    })
  }

  /** Sets the status and `status_changed`; 404 when missing or, given a dataset, in another dataset. */
  async setStatus(taskId: string, status: string, by: Actor, datasetId?: string): Promise<void> {
    checkStatus(TASK_STATUSES, status)
    await writeTx(this.db, () => {
      const state = this.state(taskId, datasetId)
      this.queries.setStatus.run({ task_id: taskId, status, now: timestamp(this.clock()) })
      this.transitions.task(state, state.status, status, by)
    })
  }

  /** The task's ref, status and document; 404 when missing or, given a dataset, in another dataset. */
  private state(taskId: string, datasetId?: string): TaskRef & { status: string; doc: string } {
    const row = datasetId === undefined ? this.queries.state.get({ task_id: taskId }) : this.queries.stateInDataset.get({ task_id: taskId, dataset_id: datasetId })
    if (!row) fail(404, `task ${taskId} not found`)
    return { ...row, task_id: taskId }
  }

  /** Pages of the tasks matching `filter`, in creation order. */
  fetcher(filter: TaskFilter): PageFetcher {
    const applied: PageFilter[] = []
    if (filter.datasetId !== undefined) applied.push('dataset_id')
    if (filter.statuses !== undefined) applied.push('status')
    if (filter.jobId !== undefined) applied.push('job_id')
    if (filter.jobIndex !== undefined) applied.push('job_index')
    if (filter.gridId !== undefined) applied.push('grid_id')
    if (filter.name !== undefined) applied.push('name')
    const page = this.queries.page(pageKey(applied))
    const values = { dataset_id: filter.datasetId, job_id: filter.jobId, job_index: filter.jobIndex, grid_id: filter.gridId, name: filter.name }
    const statuses: (string | undefined)[] = filter.statuses ?? [undefined]
    return mergedFetcher(statuses.map((status) => (after: number, limit: number) => page.all({ ...values, status, after, limit }) as StoredRow[]))
  }

  /**
   * Where a listing of the dataset's tasks resumes after `taskId` (its rowid);
   * 400 naming the parameter when that is no task of the dataset.
   */
  listingPosition(taskId: string, datasetId: string, parameter: string): number {
    const row = this.queries.rowidInDataset.get({ task_id: taskId, dataset_id: datasetId })
    return row?.rowid ?? fail(400, `query parameter ${parameter}: no task ${taskId} in dataset ${datasetId}`)
  }

  /** `{status: [id, ...]}` in status order, ids in creation order. */
  statusSummary(datasetId: string): Record<string, string[]> {
    return this.statuses.summary(datasetId)
  }

  /** `{status: count}` in status order, from the maintained counts. */
  statusCounts(datasetId: string): Record<string, number> {
    return this.statuses.counts(datasetId)
  }

  /** `{name: {status: count}}`, names ordered by their lowest task_index, statuses in status order. */
  nameStatusCounts(datasetId: string): Record<string, Record<string, number>> {
    const byName = new Map<string, { firstIndex: number; counts: Record<string, number> }>()
    for (const row of this.queries.nameStatusCounts.all({ dataset_id: datasetId })) {
      const name = String(row.name)
      const entry = byName.get(name) ?? { firstIndex: Infinity, counts: {} }
      entry.firstIndex = Math.min(entry.firstIndex, row.first_index ?? Infinity)
      entry.counts[String(row.status)] = row.n
      byName.set(name, entry)
    }
    return byTaskName(byName, (entry) => inStatusOrder(TASK_STATUSES, entry.counts))
  }

  /** Walltime statistics per task name over the dataset's complete tasks, names by lowest task_index. */
  taskStats(datasetId: string): Record<string, TaskStat> {
    const byName = new Map<string, { firstIndex: number; stat: TaskStat }>()
    for (const row of this.queries.walltimeStats.all({ dataset_id: datasetId })) {
      const n = row.count
      const mean = row.total / n
      // Sample variance from the sums; clamped because rounding can leave a tiny negative.
      const variance = n > 1 ? Math.max(0, (row.sum_squares - n * mean * mean) / (n - 1)) : null
      const denominator = row.total + row.total_err
      byName.set(String(row.name), {
        firstIndex: row.first_index ?? Infinity,
        stat: {
          count: n,
          gpu: finiteOrNull(row.gpu),
          total_hrs: finiteOrNull(row.total),
          total_err_hrs: finiteOrNull(row.total_err),
          avg_hrs: finiteOrNull(mean),
          stddev_hrs: variance === null ? null : finiteOrNull(Math.sqrt(variance)),
          min_hrs: row.min,
          max_hrs: row.max,
          efficiency: denominator > 0 ? finiteOrNull(row.total / denominator) : 0,
        },
      })
    }
    return byTaskName(byName, (entry) => entry.stat)
  }
}

/** Sums of stored numbers can pass the largest number (Infinity, or NaN from Infinity − Infinity): such a stat is null. */
const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null)

/**
 * `{name: value}` with names ordered by their lowest task_index (stable for
 * ties), in an object without a prototype: a task named `__proto__` is a key
 * like any other.
 */
function byTaskName<T extends { firstIndex: number }, V>(byName: Map<string, T>, value: (entry: T) => V): Record<string, V> {
  const out: Record<string, V> = Object.create(null)
  for (const [name, entry] of [...byName].sort((a, b) => a[1].firstIndex - b[1].firstIndex || 0)) out[name] = value(entry)
  return out
}
