/** A dataset's document, and its progress (API.md §7.3: counts kept by the server, and the ETA). */
import { enc, get } from './api'
import type { Counts } from './data'

export interface DatasetProgress {
  jobs: Counts
  tasks: Counts
  tasks_expected: number
  completed_last_hour: number
  eta: string | null
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

export const progressOf = (datasetId: string, signal?: AbortSignal) => get<DatasetProgress>(`datasets/${enc(datasetId)}/progress`, signal)
