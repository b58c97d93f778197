/**
 * Operator actions (API.md §7.2): bulk actions on a dataset's tasks and
 * jobs, and its suspension, resumption, truncation and hard reset. Each is
 * one write transaction; the tasks' changes are made by the scheduler's
 * set-based bulk transitions (scheduler/bulk.ts), with their history entries
 * and roll-ups.
 */
import { writeTx, type Db } from '../../db'
import { fail } from '../../errors'
import { checkStatus, TASK_STATUSES } from '../../status'
import type { Actor } from '../history/service'
import type { DatasetService } from '../datasets/service'
import type { BulkAction, BulkTransitions } from '../scheduler/bulk'
import type { ActionModel } from './model'

/** The filters of a task action's body. */
export type TaskFilters = typeof ActionModel.tasks.static
export type JobFilters = typeof ActionModel.jobs.static

export type DatasetAction = 'suspend' | 'resume' | 'truncate' | 'hard_reset'

const TASK_FILTER_KEYS = ['task_ids', 'status', 'name']
const JOB_FILTER_KEYS = ['job_ids']

/**
 * A filter body holds only its filters: a key that is no filter (a typo, or
 * IceProd v3's `tasks`) would otherwise widen the action to every task.
 */
function onlyKeys(body: object, keys: readonly string[]): void {
  const unknown = Object.keys(body).find((key) => !keys.includes(key))
  if (unknown !== undefined) fail(400, `unknown key: ${unknown} (the filters are ${keys.join(', ')})`)
}

export class ActionService {
  constructor(
    private readonly db: Db,
    private readonly datasets: DatasetService,
    private readonly bulk: BulkTransitions,
  ) {}

  /** A task action on the dataset's tasks that match `filters`; how many tasks it changed. */
  tasks(datasetId: string, filters: TaskFilters, action: BulkAction, by: Actor): Promise<number> {
    onlyKeys(filters, TASK_FILTER_KEYS)
    const statuses = filters.status?.map((status) => checkStatus(TASK_STATUSES, status))
    if (action.kind === 'status') checkStatus(TASK_STATUSES, action.status)
    return writeTx(this.db, () =>
      this.bulk.changeTasks({ datasetId, taskIds: filters.task_ids, statuses, name: filters.name }, action, by),
    )
  }

  /** A job action: the task action on the tasks of the dataset's jobs `filters` names (all of them without); how many tasks it changed. */
  jobs(datasetId: string, filters: JobFilters, action: BulkAction, by: Actor): Promise<number> {
    onlyKeys(filters, JOB_FILTER_KEYS)
    return writeTx(this.db, () => this.bulk.changeTasks({ datasetId, jobIds: filters.job_ids }, action, by))
  }

  /** `patch` merged into the requirements of every task of that name not complete; how many tasks. */
  requirements(datasetId: string, name: string, patch: Record<string, unknown>): Promise<number> {
    if (Object.keys(patch).length === 0) fail(400, 'empty body')
    return writeTx(this.db, () => this.bulk.mergeRequirements(datasetId, name, patch))
  }

  /**
   * suspend: `suspended` (nothing handed out or made); resume: `processing`;
   * truncate: `truncated` (no more jobs made); each answers 1 when the
   * status changed, else 0. hard_reset: `processing` and every task
   * hard-reset, answering how many tasks it changed. With the scheduler, a
   * dataset resumed or truncated then follows its jobs (§6.5).
   */
  dataset(datasetId: string, action: DatasetAction, by: Actor): Promise<number> {
    return writeTx(this.db, () => {
      if (action === 'hard_reset') {
        // The dataset follows its jobs once their tasks are reset (BulkTransitions rolls them up).
        this.datasets.changeStatus(datasetId, 'processing', by)
        return this.bulk.changeTasks({ datasetId }, { kind: 'hard_reset' }, by)
      }
      const status = action === 'suspend' ? 'suspended' : action === 'truncate' ? 'truncated' : 'processing'
      return this.datasets.changeStatusAndFollowJobs(datasetId, status, by) ? 1 : 0
    })
  }
}
