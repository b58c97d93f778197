/**
 * How the scheduler's parts name what changed: the resources a statement
 * returns as it changes them (rows keyed by their SQL column names), and
 * what a pilot reports with a failure.
 */

/** A task whose status changed, as the statement that changed it returns it. */
export interface TaskRef {
  rowid: number
  task_id: string
  dataset_id: string
  job_id: string
}

export interface JobRef {
  rowid: number
  job_id: string
  dataset_id: string
}

export interface DatasetRef {
  rowid: number
  dataset_id: string
}

/** What the reset action reports with a failure (§6.3). */
export interface FailureReport {
  reason?: string
  /** What the task used, e.g. `{"memory": 3.1}`. */
  resources?: Record<string, unknown>
}

/** Active statuses (§6.5) that stay active whatever the task waits for: `waiting` is not one of them. */
export const STEADILY_ACTIVE = ['idle', 'queued', 'processing', 'reset']
/** Statuses that stop the tasks waiting for them, and so may stop other jobs. */
export const BLOCKING = ['failed', 'suspended']
