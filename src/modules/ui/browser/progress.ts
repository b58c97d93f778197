/**
 * A dataset's progress: `/datasets/<d>/progress` (API.md §7.3) where the
 * server has it; otherwise made from the task counts and the number of
 * tasks the dataset expects (its config's tasks per job × jobs_submitted, or
 * its tasks_submitted), with no ETA.
 */
import { ApiError, enc, get, getOptional, lacks } from './api'
import { total, type Counts } from './data'

export interface DatasetProgress {
  jobs?: Counts
  tasks: Counts
  tasks_expected: number
  completed_last_hour?: number
  eta: string | null
  /** False when made here from counts: the server has no progress route. */
  fromServer: boolean
}

export interface DatasetDoc {
  dataset_id: string
  dataset?: number
  description?: string
  status?: string
  jobs_submitted?: number
  tasks_submitted?: number
  username?: string
  group?: string
  priority?: number
  start_date?: string
  [key: string]: unknown
}

export async function progressOf(dataset: DatasetDoc, signal?: AbortSignal): Promise<DatasetProgress> {
  const id = enc(dataset.dataset_id)
  if (!lacks('progress')) {
    try {
      const progress = await getOptional<Omit<DatasetProgress, 'fromServer'>>('progress', `datasets/${id}/progress`, signal)
      return { ...progress, fromServer: true }
    } catch (error) {
      if (!(error instanceof ApiError && error.noRoute)) throw error
    }
  }
  const tasks = await get<Counts>(`datasets/${id}/task_counts/status`, signal)
  return { tasks, tasks_expected: expectedTasks(dataset, tasks), eta: null, fromServer: false }
}

function expectedTasks(dataset: DatasetDoc, tasks: Counts): number {
  const fromConfig = typeof dataset.tasks_per_job === 'number' && typeof dataset.jobs_submitted === 'number' ? dataset.tasks_per_job * dataset.jobs_submitted : 0
  const submitted = typeof dataset.tasks_submitted === 'number' ? dataset.tasks_submitted : 0
  return Math.max(fromConfig, submitted, total(tasks))
}
