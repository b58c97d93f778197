/**
 * How the scheduler's parts name what changed: the resources a statement
 * returns as it changes them, and what a pilot reports with a failure.
 */

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

/** What the reset action reports with a failure (§6.3). */
export interface FailureReport {
  reason?: string
  /** What the task used, e.g. `{"memory": 3.1}`. */
  resources?: Record<string, unknown>
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
