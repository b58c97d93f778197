/**
 * Tasks: creation, lookups, merges, status changes, filtered listings and
 * the per-dataset summaries. Documents are stored and returned as JSON text;
 * status counts come from the trigger-maintained `task_counts` table.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm'
import { writeTx, type Db } from '../../db'
import { DatasetStatuses } from '../../db/dataset-statuses'
import { mergePatch, newId, timestamp } from '../../db/documents'
import { systemClock, type Clock } from '../../clock'
import { jobs, taskCounts, tasks } from '../../db/schema'
import { fail } from '../../errors'
import { checkStatus, inStatusOrder, TASK_STATUSES } from '../../status'
import { GroupCommit } from '../../db/group-commit'
import { lazy } from '../../db/lazy'
import { mergedFetcher, type PageFetcher, type StoredRow } from '../../db/pages'

export type Document = Record<string, unknown>

export interface NewTask extends Document {
  dataset_id: string
  job_id: string
  task_index: number
  name: string
  depends: string[]
  requirements: Document
}

/** Filters of a task listing; each one narrows the result. */
export interface TaskFilter {
  datasetId?: string
  statuses?: string[]
  jobId?: string
  jobIndex?: number
  gridId?: string
}

export interface TaskStat {
  count: number
  gpu: number
  total_hrs: number
  total_err_hrs: number
  avg_hrs: number
  stddev_hrs: number | null
  min_hrs: number
  max_hrs: number
  efficiency: number
}

/** Keys a PATCH may not change: the task's identity and where it belongs. */
const FIXED_KEYS = ['task_id', 'dataset_id', 'job_id', 'job_index']

const rowid = sql<number>`${tasks}.rowid`
const byCreation = sql`${tasks}.rowid`
const p = sql.placeholder

/** A numeric field of the task document, 0 when missing or not a number. */
const numberIn = (path: string): SQL<number> =>
  sql<number>`iif(json_type(${tasks.doc}, ${path}) IN ('integer', 'real'), json_extract(${tasks.doc}, ${path}), 0)`

// A status change is one json_set, so the counting triggers see exactly one old and one new status.
const statusSet = { doc: sql`json_set(${tasks.doc}, '$.status', ${p('status')}, '$.status_changed', ${p('now')})` }
const walltime = numberIn('$.walltime')

export class TaskService {
  private readonly jobIndexQuery = lazy(() =>
    this.db
      .select({ jobIndex: jobs.jobIndex })
      .from(jobs)
      .where(and(eq(jobs.jobId, p('job_id')), eq(jobs.datasetId, p('dataset_id'))))
      .prepare(),
  )
  private readonly insertQuery = lazy(() => this.db.insert(tasks).values({ taskId: p('task_id'), doc: p('doc') }).prepare())
  private readonly docQuery = lazy(() => this.db.select({ doc: tasks.doc }).from(tasks).where(eq(tasks.taskId, p('task_id'))).prepare())
  // GET /tasks/<id> is the hottest route: read the stored text with the same
  // SQL straight from bun:sqlite, skipping drizzle's row mapping.
  private readonly docByIdStatement = lazy(() => this.db.$client.prepare<{ doc: string }, [string]>(this.docQuery().getQuery().sql))
  private readonly docInDatasetQuery = lazy(() =>
    this.db
      .select({ doc: tasks.doc })
      .from(tasks)
      .where(and(eq(tasks.taskId, p('task_id')), eq(tasks.datasetId, p('dataset_id'))))
      .prepare(),
  )
  private readonly saveDocQuery = lazy(() => this.db.update(tasks).set({ doc: sql`${p('doc')}` }).where(eq(tasks.taskId, p('task_id'))).prepare())
  private readonly setStatusQuery = lazy(() => this.db.update(tasks).set(statusSet).where(eq(tasks.taskId, p('task_id'))).returning({ id: tasks.taskId }).prepare())
  private readonly setStatusInDatasetQuery = lazy(() =>
    this.db
      .update(tasks)
      .set(statusSet)
      .where(and(eq(tasks.taskId, p('task_id')), eq(tasks.datasetId, p('dataset_id'))))
      .returning({ id: tasks.taskId })
      .prepare(),
  )
  private readonly statuses: DatasetStatuses
  private readonly nameStatusQuery = lazy(() =>
    this.db
      .select({ name: tasks.name, status: tasks.status, n: sql<number>`count(*)`, firstIndex: sql<number>`min(${tasks.taskIndex})` })
      .from(tasks)
      .where(eq(tasks.datasetId, p('dataset_id')))
      .groupBy(tasks.name, tasks.status)
      .prepare(),
  )
  private readonly statsQuery = lazy(() =>
    this.db
      .select({
        name: tasks.name,
        count: sql<number>`count(*)`,
        gpu: sql<number>`total(${numberIn('$.requirements.gpu')})`,
        total: sql<number>`total(${walltime})`,
        totalErr: sql<number>`total(${numberIn('$.walltime_err')})`,
        sumSquares: sql<number>`total(${walltime} * ${walltime})`,
        min: sql<number>`min(${walltime})`,
        max: sql<number>`max(${walltime})`,
        firstIndex: sql<number>`min(${tasks.taskIndex})`,
      })
      .from(tasks)
      .where(and(eq(tasks.datasetId, p('dataset_id')), eq(tasks.status, 'complete')))
      .groupBy(tasks.name)
      .prepare(),
  )
  /** One prepared page query per combination of filters, built on first use. */
  private readonly pageQueries = new Map<string, ReturnType<TaskService['buildPageQuery']>>()
  private readonly creations: GroupCommit<NewTask, string>

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {
    // insert() reads, then writes with its one INSERT as its last step.
    this.creations = new GroupCommit(db, (body: NewTask) => this.insert(body), { singleStatement: true })
    this.statuses = new DatasetStatuses(
      db,
      { table: tasks, id: tasks.taskId, datasetId: tasks.datasetId, status: tasks.status },
      { table: taskCounts, datasetId: taskCounts.datasetId, status: taskCounts.status, n: taskCounts.n },
      TASK_STATUSES,
    )
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
    const job = this.jobIndexQuery().get({ job_id: body.job_id, dataset_id: body.dataset_id })
    if (!job) fail(400, `no such job: ${body.job_id} in dataset ${body.dataset_id}`)
    const taskId = newId()
    const doc = {
      ...body,
      task_id: taskId,
      job_index: job.jobIndex,
      status: 'waiting',
      status_changed: timestamp(this.clock()),
      failures: 0,
      evictions: 0,
      walltime: 0.0,
      walltime_err: 0.0,
      walltime_err_n: 0,
    }
    this.insertQuery().run({ task_id: taskId, doc: JSON.stringify(doc) })
    return taskId
  }

  /** The stored task document (JSON text); 404 when missing or, given a dataset, in another dataset. */
  get(taskId: string, datasetId?: string): string {
    const row = datasetId === undefined ? this.docByIdStatement().get(taskId) : this.docInDatasetQuery().get({ task_id: taskId, dataset_id: datasetId })
    return row?.doc ?? fail(404, `task ${taskId} not found`)
  }

  /** Merges `patch` into the task (see API.md §1) and returns the updated document as JSON text. */
  patch(taskId: string, patch: Document): string {
    return writeTx(this.db, () => {
      const stored = JSON.parse(this.get(taskId)) as Document
      const merged = mergePatch(stored, patch, FIXED_KEYS)
      if ('status' in patch) {
        checkStatus(TASK_STATUSES, patch.status)
        merged.status_changed = timestamp(this.clock())
      }
      const doc = JSON.stringify(merged)
      this.saveDocQuery().run({ task_id: taskId, doc })
      return doc
    })
  }

  /** Sets the status and `status_changed`; 404 when missing or, given a dataset, in another dataset. */
  setStatus(taskId: string, status: string, datasetId?: string): void {
    checkStatus(TASK_STATUSES, status)
    const values = { task_id: taskId, status, now: timestamp(this.clock()) }
    const updated = datasetId === undefined ? this.setStatusQuery().get(values) : this.setStatusInDatasetQuery().get({ ...values, dataset_id: datasetId })
    if (!updated) fail(404, `task ${taskId} not found`)
  }

  /** Pages of the tasks matching `filter`, in creation order. */
  fetcher(filter: TaskFilter): PageFetcher {
    const statuses: (string | undefined)[] = filter.statuses ?? [undefined]
    return mergedFetcher(
      statuses.map((status) => {
        const query = this.pageQuery({ ...filter, statuses: status === undefined ? undefined : [status] })
        const values = {
          dataset_id: filter.datasetId,
          status,
          job_id: filter.jobId,
          job_index: filter.jobIndex,
          grid_id: filter.gridId,
        }
        return (after: number, limit: number) => query.all({ ...values, after, limit }) as StoredRow[]
      }),
    )
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
    for (const row of this.nameStatusQuery().all({ dataset_id: datasetId })) {
      const name = String(row.name)
      const entry = byName.get(name) ?? { firstIndex: Infinity, counts: {} }
      entry.firstIndex = Math.min(entry.firstIndex, row.firstIndex ?? Infinity)
      entry.counts[String(row.status)] = row.n
      byName.set(name, entry)
    }
    const out: Record<string, Record<string, number>> = {}
    for (const [name, entry] of inTaskOrder(byName)) out[name] = inStatusOrder(TASK_STATUSES, entry.counts)
    return out
  }

  /** Walltime statistics per task name over the dataset's complete tasks, names by lowest task_index. */
  taskStats(datasetId: string): Record<string, TaskStat> {
    const byName = new Map<string, { firstIndex: number; stat: TaskStat }>()
    for (const row of this.statsQuery().all({ dataset_id: datasetId })) {
      const n = row.count
      const mean = row.total / n
      // Sample variance from the sums; clamped because rounding can leave a tiny negative.
      const variance = n > 1 ? Math.max(0, (row.sumSquares - n * mean * mean) / (n - 1)) : null
      const denominator = row.total + row.totalErr
      byName.set(String(row.name), {
        firstIndex: row.firstIndex ?? Infinity,
        stat: {
          count: n,
          gpu: row.gpu,
          total_hrs: row.total,
          total_err_hrs: row.totalErr,
          avg_hrs: mean,
          stddev_hrs: variance === null ? null : Math.sqrt(variance),
          min_hrs: row.min,
          max_hrs: row.max,
          efficiency: denominator > 0 ? row.total / denominator : 0,
        },
      })
    }
    const out: Record<string, TaskStat> = {}
    for (const [name, entry] of inTaskOrder(byName)) out[name] = entry.stat
    return out
  }

  /** The SQL of every listing and summary query, for query-plan checks. */
  queriesForPlanCheck(): { name: string; sql: string }[] {
    const shapes: [string, TaskFilter][] = [
      ['dataset', { datasetId: 'd' }],
      ['dataset+status', { datasetId: 'd', statuses: ['waiting'] }],
      ['dataset+job_id', { datasetId: 'd', jobId: 'j' }],
      ['dataset+job_index', { datasetId: 'd', jobIndex: 0 }],
      ['dataset+grid_id', { datasetId: 'd', gridId: 'g' }],
      ['dataset+status+job_index', { datasetId: 'd', statuses: ['waiting'], jobIndex: 0 }],
      ['status', { statuses: ['waiting'] }],
    ]
    return [
      ...shapes.map(([name, filter]) => ({ name: `list ${name}`, sql: this.pageQuery(filter).getQuery().sql })),
      { name: 'get', sql: this.docQuery().getQuery().sql },
      { name: 'get in dataset', sql: this.docInDatasetQuery().getQuery().sql },
      { name: 'status summary', sql: this.statuses.idsByStatusQuery().getQuery().sql },
      { name: 'status counts', sql: this.statuses.countsQuery().getQuery().sql },
      { name: 'name/status counts', sql: this.nameStatusQuery().getQuery().sql },
      { name: 'task stats', sql: this.statsQuery().getQuery().sql },
      { name: 'set status in dataset', sql: this.setStatusInDatasetQuery().getQuery().sql },
    ]
  }

  private pageQuery(filter: TaskFilter) {
    const shape = [filter.datasetId, filter.statuses, filter.jobId, filter.jobIndex, filter.gridId].map((v) => (v === undefined ? '-' : '+')).join('')
    let query = this.pageQueries.get(shape)
    if (!query) {
      query = this.buildPageQuery(filter)
      this.pageQueries.set(shape, query)
    }
    return query
  }

  /** Keyset paging on rowid: every filter has an index whose entries are in rowid order. */
  private buildPageQuery(filter: TaskFilter) {
    const conditions: SQL[] = [sql`${rowid} > ${p('after')}`]
    if (filter.datasetId !== undefined) conditions.push(eq(tasks.datasetId, p('dataset_id')))
    if (filter.statuses !== undefined) conditions.push(eq(tasks.status, p('status')))
    if (filter.jobId !== undefined) {
      // Through the job's (dataset_id, job_index), both fixed when the task is created, to use that index.
      conditions.push(
        sql`${tasks.datasetId} = (SELECT ${jobs.datasetId} FROM ${jobs} WHERE ${jobs.jobId} = ${p('job_id')})`,
        sql`${tasks.jobIndex} = (SELECT ${jobs.jobIndex} FROM ${jobs} WHERE ${jobs.jobId} = ${p('job_id')})`,
        eq(tasks.jobId, p('job_id')),
      )
    }
    if (filter.jobIndex !== undefined) conditions.push(eq(tasks.jobIndex, p('job_index')))
    if (filter.gridId !== undefined) conditions.push(eq(tasks.gridId, p('grid_id')))
    return this.db
      .select({ rowid, id: tasks.taskId, doc: tasks.doc })
      .from(tasks)
      .where(and(...conditions))
      .orderBy(byCreation)
      .limit(p('limit'))
      .prepare()
  }
}

/** Entries ordered by their lowest task_index (stable for ties). */
function inTaskOrder<T extends { firstIndex: number }>(byName: Map<string, T>): [string, T][] {
  return [...byName].sort((a, b) => a[1].firstIndex - b[1].firstIndex || 0)
}
