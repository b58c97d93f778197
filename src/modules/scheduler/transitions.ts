/**
 * Status transitions: every service that changes the status of a dataset,
 * job or task reports the change here, inside the transaction that made it.
 * Each change is written to the status history (§7.1).
 */
import type { Actor, HistoryService } from '../history/service'

/** A task whose status changed, as the statement that changed it returns it. */
export interface TaskRef {
  rowid: number
  taskId: string
  datasetId: string
  jobId: string
}

export interface JobRef {
  rowid: number
  jobId: string
  datasetId: string
}

export interface DatasetRef {
  rowid: number
  datasetId: string
}

/** A task's ref from a row keyed by its SQL column names. */
export const taskRefOf = (row: { rowid: number; task_id: string; dataset_id: string; job_id: string }): TaskRef => ({
  rowid: row.rowid,
  taskId: row.task_id,
  datasetId: row.dataset_id,
  jobId: row.job_id,
})

/** The columns a task statement returns as its TaskRef. */
export const TASK_REF_COLUMNS = 'rowid, task_id AS taskId, dataset_id AS datasetId, job_id AS jobId'

export class Transitions {
  constructor(private readonly history: HistoryService) {}

  /** A task went `from` → `to`; nothing is written when the status stayed the same. */
  task(task: TaskRef, from: string, to: string, by: Actor, reason?: string): void {
    if (from === to) return
    this.history.record({ kind: 'task', subject: task.rowid, from, to, by, reason })
  }

  job(job: JobRef, from: string, to: string, by: Actor, reason?: string): void {
    if (from === to) return
    this.history.record({ kind: 'job', subject: job.rowid, from, to, by, reason })
  }

  dataset(dataset: DatasetRef, from: string, to: string, by: Actor, reason?: string): void {
    if (from === to) return
    this.history.record({ kind: 'dataset', subject: dataset.rowid, from, to, by, reason })
  }
}
