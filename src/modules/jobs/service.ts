/**
 * Jobs: creation with a per-dataset unique index, lookups, merges, status
 * changes, filtered listings, and summaries from the maintained `job_counts`.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm'
import { writeTx, type Db } from '../../db'
import { DatasetStatuses } from '../../db/dataset-statuses'
import { mergePatch, newId, timestamp } from '../../db/documents'
import { systemClock, type Clock } from '../../clock'
import { datasets, jobCounts, jobs } from '../../db/schema'
import { lazy } from '../../db/lazy'
import { fail } from '../../errors'
import { checkStatus, JOB_STATUSES } from '../../status'
import { mergedFetcher, type PageFetcher, type StoredRow } from '../../db/pages'

export type Document = Record<string, unknown>

export interface NewJob extends Document {
  dataset_id: string
  job_index: number
}

export interface JobFilter {
  datasetId: string
  statuses?: string[]
  jobIndex?: number
}

/** Keys a PATCH may not change: the job's identity within its dataset. */
const FIXED_KEYS = ['job_id', 'dataset_id', 'job_index']

const rowid = sql<number>`${jobs}.rowid`
const byCreation = sql`${jobs}.rowid`
const p = sql.placeholder

export class JobService {
  private readonly datasetExistsQuery = lazy(() => this.db.select({ id: datasets.datasetId }).from(datasets).where(eq(datasets.datasetId, p('dataset_id'))).prepare())
  private readonly jobIndexTakenQuery = lazy(() =>
    this.db
      .select({ id: jobs.jobId })
      .from(jobs)
      .where(and(eq(jobs.datasetId, p('dataset_id')), eq(jobs.jobIndex, p('job_index'))))
      .prepare(),
  )
  private readonly insertQuery = lazy(() => this.db.insert(jobs).values({ jobId: p('job_id'), doc: p('doc') }).prepare())
  private readonly docQuery = lazy(() => this.db.select({ doc: jobs.doc }).from(jobs).where(eq(jobs.jobId, p('job_id'))).prepare())
  private readonly docInDatasetQuery = lazy(() =>
    this.db
      .select({ doc: jobs.doc })
      .from(jobs)
      .where(and(eq(jobs.jobId, p('job_id')), eq(jobs.datasetId, p('dataset_id'))))
      .prepare(),
  )
  private readonly saveDocQuery = lazy(() => this.db.update(jobs).set({ doc: sql`${p('doc')}` }).where(eq(jobs.jobId, p('job_id'))).prepare())
  // One json_set, so the counting triggers see exactly one old and one new status.
  private readonly setStatusInDatasetQuery = lazy(() =>
    this.db
      .update(jobs)
      .set({ doc: sql`json_set(${jobs.doc}, '$.status', ${p('status')}, '$.status_changed', ${p('now')})` })
      .where(and(eq(jobs.jobId, p('job_id')), eq(jobs.datasetId, p('dataset_id'))))
      .returning({ id: jobs.jobId })
      .prepare(),
  )
  private readonly statuses: DatasetStatuses
  private readonly pageByStatusQuery = lazy(() => this.pageQuery(eq(jobs.status, p('status'))))
  private readonly pageByStatusAndIndexQuery = lazy(() => this.pageQuery(eq(jobs.status, p('status')), eq(jobs.jobIndex, p('job_index'))))
  private readonly pageByIndexQuery = lazy(() => this.pageQuery(eq(jobs.jobIndex, p('job_index'))))

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {
    this.statuses = new DatasetStatuses(
      db,
      { table: jobs, id: jobs.jobId, datasetId: jobs.datasetId, status: jobs.status },
      { table: jobCounts, datasetId: jobCounts.datasetId, status: jobCounts.status, n: jobCounts.n },
      JOB_STATUSES,
    )
  }

  /** Creates a job in an existing dataset, its index unused there; returns its id. */
  create(body: NewJob): string {
    const jobId = newId()
    writeTx(this.db, () => {
      if (!this.datasetExistsQuery().get({ dataset_id: body.dataset_id })) fail(400, `no such dataset: ${body.dataset_id}`)
      if (this.jobIndexTakenQuery().get({ dataset_id: body.dataset_id, job_index: body.job_index })) {
        fail(409, `job_index ${body.job_index} already exists in dataset ${body.dataset_id}`)
      }
      const doc = { ...body, job_id: jobId, status: 'processing', status_changed: timestamp(this.clock()) }
      this.insertQuery().run({ job_id: jobId, doc: JSON.stringify(doc) })
    })
    return jobId
  }

  /** The stored job document (JSON text); 404 when missing or, given a dataset, in another dataset. */
  get(jobId: string, datasetId?: string): string {
    const row = datasetId === undefined ? this.docQuery().get({ job_id: jobId }) : this.docInDatasetQuery().get({ job_id: jobId, dataset_id: datasetId })
    return row?.doc ?? fail(404, `job ${jobId} not found`)
  }

  /** Merges `patch` into the job (see API.md §1) and returns the updated document as JSON text. */
  patch(jobId: string, patch: Document): string {
    return writeTx(this.db, () => {
      const merged = mergePatch(JSON.parse(this.get(jobId)) as Document, patch, FIXED_KEYS)
      if ('status' in patch) {
        checkStatus(JOB_STATUSES, patch.status)
        merged.status_changed = timestamp(this.clock())
      }
      const doc = JSON.stringify(merged)
      this.saveDocQuery().run({ job_id: jobId, doc })
      return doc
    })
  }

  /** Sets the status and `status_changed` of a job of the dataset; 404 when not there. */
  setStatus(datasetId: string, jobId: string, status: string): void {
    checkStatus(JOB_STATUSES, status)
    const updated = this.setStatusInDatasetQuery().get({ job_id: jobId, dataset_id: datasetId, status, now: timestamp(this.clock()) })
    if (!updated) fail(404, `job ${jobId} not found`)
  }

  /**
   * Pages of the dataset's jobs matching `filter`, in creation order. Without
   * a job_index, each status present is read from the (dataset_id, status)
   * index, whose entries are in rowid order, and the pages are merged.
   */
  fetcher(filter: JobFilter): PageFetcher {
    const { datasetId, jobIndex } = filter
    if (jobIndex !== undefined && filter.statuses === undefined) {
      return (after, limit) => this.pageByIndexQuery().all({ dataset_id: datasetId, job_index: jobIndex, after, limit }) as StoredRow[]
    }
    const statuses = filter.statuses ?? Object.keys(this.statusCounts(datasetId))
    if (statuses.length === 0) return () => []
    return mergedFetcher(
      statuses.map((status) =>
        jobIndex === undefined
          ? (after: number, limit: number) => this.pageByStatusQuery().all({ dataset_id: datasetId, status, after, limit }) as StoredRow[]
          : (after: number, limit: number) =>
              this.pageByStatusAndIndexQuery().all({ dataset_id: datasetId, status, job_index: jobIndex, after, limit }) as StoredRow[],
      ),
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

  /** The SQL of every listing and summary query, for query-plan checks. */
  queriesForPlanCheck(): { name: string; sql: string }[] {
    return [
      { name: 'list by status', sql: this.pageByStatusQuery().getQuery().sql },
      { name: 'list by status and job_index', sql: this.pageByStatusAndIndexQuery().getQuery().sql },
      { name: 'list by job_index', sql: this.pageByIndexQuery().getQuery().sql },
      { name: 'job_index taken', sql: this.jobIndexTakenQuery().getQuery().sql },
      { name: 'get in dataset', sql: this.docInDatasetQuery().getQuery().sql },
      { name: 'status summary', sql: this.statuses.idsByStatusQuery().getQuery().sql },
      { name: 'status counts', sql: this.statuses.countsQuery().getQuery().sql },
    ]
  }

  private pageQuery(...conditions: SQL[]) {
    return this.db
      .select({ rowid, id: jobs.jobId, doc: jobs.doc })
      .from(jobs)
      .where(and(eq(jobs.datasetId, p('dataset_id')), ...conditions, sql`${rowid} > ${p('after')}`))
      .orderBy(byCreation)
      .limit(p('limit'))
      .prepare()
  }
}
