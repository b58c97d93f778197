/**
 * Datasets: creation (with its sequence number and access rule in one
 * transaction), lookups, the single-field updates, and the listings a token
 * may see.
 */
import { grants, hasDatasetAccess, type DatasetRule } from '../../auth/access'
import { seesAllDatasets } from '../../auth/roles'
import type { Auth } from '../../auth/tokens'
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { newId, timestamp, type Document } from '../../db/documents'
import { fail } from '../../errors'
import { checkStatus, DATASET_STATUSES, inStatusOrder } from '../../status'
import type { AuthService } from '../auth/service'
import { isTasksPerJob, type DatasetModel } from './model'
import { datasetQueries } from './queries'
import type { Actor } from '../history/service'
import type { Transitions } from '../scheduler/transitions'

export type NewDataset = typeof DatasetModel.create.static

export class DatasetService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly auth: AuthService,
    private readonly transitions: Transitions,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = datasetQueries(db)
  }

  /**
   * Creates a dataset owned by `caller`, with the next sequence number and
   * the access rule read_groups = write_groups = [group]; returns its id.
   */
  create(body: NewDataset, caller: Auth): Promise<string> {
    return writeTx(this.db, () => {
      if (!this.auth.groupExists(body.group)) fail(400, `no such group: ${body.group}`)
      if (caller.role !== 'admin' && !caller.groups.some((held) => grants(held, body.group))) {
        fail(403, `token does not hold group ${body.group}`)
      }
      const next = this.queries.nextNumber.get()
      if (!next) throw new Error('the dataset sequence is missing')
      const datasetId = newId()
      const doc = {
        ...body,
        priority: body.priority ?? 0,
        debug: body.debug ?? false,
        dataset_id: datasetId,
        dataset: next.value,
        status: 'processing',
        start_date: timestamp(this.clock()),
        username: caller.username,
      }
      this.queries.insert.run({ dataset_id: datasetId, doc: JSON.stringify(doc) })
      this.auth.setRule(datasetId, { read_groups: [body.group], write_groups: [body.group] })
      return datasetId
    })
  }

  /** The stored dataset document (JSON text), 404 when missing. */
  get(datasetId: string): string {
    return this.queries.doc.get({ dataset_id: datasetId })?.doc ?? fail(404, `dataset ${datasetId} not found`)
  }

  /** The datasets `caller` may see, with the given statuses when a filter is set, in creation order. */
  visible(caller: Auth, statuses?: string[]): { id: string; doc: string }[] {
    const rows = statuses
      ? statuses.flatMap((status) => this.queries.listByStatus.all({ status })).sort((a, b) => a.rowid - b.rowid)
      : this.queries.list.all()
    if (seesAllDatasets.includes(caller.role)) return rows
    return rows.filter((row) => row.rule !== null && hasDatasetAccess(caller.groups, JSON.parse(row.rule) as DatasetRule, 'read'))
  }

  /** `{status: [dataset_id, ...]}` over the datasets `caller` may see, in status order. */
  statusSummary(caller: Auth): Record<string, string[]> {
    const summary: Record<string, string[]> = {}
    for (const row of this.visible(caller)) {
      const status = String((JSON.parse(row.doc) as Document).status)
      ;(summary[status] ??= []).push(row.id)
    }
    return inStatusOrder(DATASET_STATUSES, summary)
  }

  async setStatus(datasetId: string, status: string, by: Actor): Promise<void> {
    checkStatus(DATASET_STATUSES, status)
    await writeTx(this.db, () => this.changeStatusAndFollowJobs(datasetId, status, by))
  }

  /**
   * Inside the caller's write transaction: sets a (checked) status and
   * reports the change; returns whether the status changed. 404 when the
   * dataset is missing.
   */
  changeStatus(datasetId: string, status: string, by: Actor): boolean {
    const state = this.queries.state.get({ dataset_id: datasetId }) ?? fail(404, `dataset ${datasetId} not found`)
    this.setField(datasetId, '$.status', status)
    this.transitions.dataset({ rowid: state.rowid, dataset_id: datasetId }, state.status, status, by)
    return state.status !== status
  }

  /**
   * changeStatus, after which, with the scheduler, a dataset set processing
   * or truncated follows its jobs at once (§6.5): one whose jobs are all
   * there and complete is complete.
   */
  changeStatusAndFollowJobs(datasetId: string, status: string, by: Actor): boolean {
    const changed = this.changeStatus(datasetId, status, by)
    if (status === 'processing' || status === 'truncated') this.transitions.datasetFollowsJobs(datasetId)
    return changed
  }

  async setDescription(datasetId: string, description: string): Promise<void> {
    await writeTx(this.db, () => this.setField(datasetId, '$.description', description))
  }

  /** Sets `priority`; a trigger gives the dataset's queued tasks the new priority in the same statement. */
  async setPriority(datasetId: string, priority: number): Promise<void> {
    await writeTx(this.db, () => this.setField(datasetId, '$.priority', priority))
  }

  /**
   * Sets `jobs_submitted`, never below the jobs already created. A dataset
   * with a positive integer `tasks_per_job` of at most MAX_CONFIG_TASKS also
   * gets `tasks_submitted` = jobs_submitted × tasks_per_job, as IceProd keeps
   * the two in step; any other tasks_per_job is not followed, so
   * tasks_submitted never passes MAX_TASKS_SUBMITTED.
   */
  async setJobsSubmitted(datasetId: string, jobsSubmitted: number): Promise<void> {
    await writeTx(this.db, () => {
      const dataset = JSON.parse(this.get(datasetId)) as Document
      const created = this.queries.jobsCreated.get({ dataset_id: datasetId })?.n ?? 0
      if (jobsSubmitted < created) fail(400, `key jobs_submitted cannot be below the ${created} jobs already created`)
      this.setField(datasetId, '$.jobs_submitted', jobsSubmitted)
      if (isTasksPerJob(dataset.tasks_per_job)) this.setField(datasetId, '$.tasks_submitted', jobsSubmitted * dataset.tasks_per_job)
      this.transitions.jobsSubmittedChanged(datasetId)
    })
  }

  /** One top-level field replaced with a single json_set; 404 when the dataset is missing. */
  private setField(datasetId: string, path: string, value: unknown): void {
    if (!this.queries.setField.get({ dataset_id: datasetId, path, value: JSON.stringify(value) })) fail(404, `dataset ${datasetId} not found`)
  }
}
