/**
 * Jobs: creation with a per-dataset unique index, lookups, merges, status
 * changes, filtered listings, and summaries from the maintained `job_counts`.
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { DatasetStatuses } from '../../db/dataset-statuses'
import { mergePatch, newId, timestamp, type Document } from '../../db/documents'
import { mergedFetcher, type PageFetcher } from '../../db/pages'
import { fail } from '../../errors'
import { checkStatus, JOB_STATUSES } from '../../status'
import type { Actor } from '../history/service'
import type { JobRef } from '../scheduler/refs'
import type { Transitions } from '../scheduler/transitions'
import type { JobModel } from './model'
import { jobQueries } from './queries'

export type NewJob = typeof JobModel.create.static
export type JobPatch = typeof JobModel.patch.static

export interface JobFilter {
  datasetId: string
  statuses?: string[]
  jobIndex?: number
}

/** Keys a PATCH may not change: the job's identity within its dataset. */
const FIXED_KEYS = ['job_id', 'dataset_id', 'job_index']

export class JobService {
  private readonly queries
  private readonly statuses: DatasetStatuses

  constructor(
    private readonly db: Db,
    private readonly transitions: Transitions,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = jobQueries(db)
    this.statuses = new DatasetStatuses(this.queries, JOB_STATUSES)
  }

  /** Creates a job in an existing dataset, its index unused there; returns its id. */
  async create(body: NewJob): Promise<string> {
    const jobId = newId()
    await writeTx(this.db, () => {
      if (!this.queries.datasetExists.get({ dataset_id: body.dataset_id })) fail(400, `no such dataset: ${body.dataset_id}`)
      if (this.queries.jobIndexTaken.get({ dataset_id: body.dataset_id, job_index: body.job_index })) {
        fail(409, `job_index ${body.job_index} already exists in dataset ${body.dataset_id}`)
      }
      const doc = { ...body, job_id: jobId, status: 'processing', status_changed: timestamp(this.clock()) }
      this.queries.insert.run({ job_id: jobId, doc: JSON.stringify(doc) })
      this.transitions.jobCreated(body.dataset_id)
    })
    return jobId
  }

  /** The stored job document (JSON text); 404 when missing or, given a dataset, in another dataset. */
  get(jobId: string, datasetId?: string): string {
    const row = datasetId === undefined ? this.queries.doc.get({ job_id: jobId }) : this.queries.docInDataset.get({ job_id: jobId, dataset_id: datasetId })
    return row?.doc ?? fail(404, `job ${jobId} not found`)
  }

  /** Merges `patch` into the job (see API.md §1) and returns the updated document as JSON text. */
  patch(jobId: string, patch: JobPatch, by: Actor): Promise<string> {
    return writeTx(this.db, () => {
      const state = this.state(jobId)
      const merged = mergePatch(JSON.parse(state.doc) as Document, patch, FIXED_KEYS)
      if ('status' in patch) {
        checkStatus(JOB_STATUSES, patch.status)
        merged.status_changed = timestamp(this.clock())
      }
      const doc = JSON.stringify(merged)
      this.queries.saveDoc.run({ job_id: jobId, doc })
      if ('status' in patch) this.transitions.job(state, state.status, patch.status as string, by)
      return doc
    })
  }

  /** Sets the status and `status_changed` of a job of the dataset; 404 when not there. */
  async setStatus(datasetId: string, jobId: string, status: string, by: Actor): Promise<void> {
    checkStatus(JOB_STATUSES, status)
    await writeTx(this.db, () => {
      const state = this.state(jobId, datasetId)
      this.queries.setStatusInDataset.run({ job_id: jobId, dataset_id: datasetId, status, now: timestamp(this.clock()) })
      this.transitions.job(state, state.status, status, by)
    })
  }

  /** The job's ref, status and document; 404 when missing or, given a dataset, in another dataset. */
  private state(jobId: string, datasetId?: string): JobRef & { status: string; doc: string } {
    const row = datasetId === undefined ? this.queries.state.get({ job_id: jobId }) : this.queries.stateInDataset.get({ job_id: jobId, dataset_id: datasetId })
    if (!row) fail(404, `job ${jobId} not found`)
    return { ...row, job_id: jobId }
  }

  /**
   * Pages of the dataset's jobs matching `filter`, in creation order. Without
   * a job_index, each status present is read from the (dataset_id, status)
   * index, whose entries are in rowid order, and the pages are merged.
   */
  fetcher(filter: JobFilter): PageFetcher {
    const { datasetId, jobIndex } = filter
    if (jobIndex !== undefined && filter.statuses === undefined) {
      return (after, limit) => this.queries.pageByIndex.all({ dataset_id: datasetId, job_index: jobIndex, after, limit })
    }
    const statuses = filter.statuses ?? Object.keys(this.statusCounts(datasetId))
    if (statuses.length === 0) return () => []
    return mergedFetcher(
      statuses.map((status) =>
        jobIndex === undefined
          ? (after: number, limit: number) => this.queries.pageByStatus.all({ dataset_id: datasetId, status, after, limit })
          : (after: number, limit: number) =>
              this.queries.pageByStatusAndIndex.all({ dataset_id: datasetId, status, job_index: jobIndex, after, limit }),
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
}
