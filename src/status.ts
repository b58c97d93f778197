/** Status vocabularies and their documented display order, one place for all resources. */
import { fail } from './errors'

export const DATASET_STATUSES = ['processing', 'suspended', 'errors', 'truncated', 'complete'] as const
export const JOB_STATUSES = ['processing', 'failed', 'suspended', 'errors', 'complete'] as const
export const TASK_STATUSES = ['idle', 'waiting', 'queued', 'processing', 'reset', 'suspended', 'failed', 'complete'] as const

export type StatusList = readonly string[]

/** Throws 400 `bad status: <value>` unless value is one of the list. */
export function checkStatus(list: StatusList, value: unknown): string {
  if (typeof value !== 'string' || !list.includes(value)) fail(400, `bad status: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
  return value
}

/**
 * Orders an object keyed by status: known statuses in list order, unknown ones
 * after them in their original order. Statuses absent from `byStatus` are left out.
 */
export function inStatusOrder<T>(list: StatusList, byStatus: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {}
  for (const status of list) if (status in byStatus) out[status] = byStatus[status] as T
  for (const status of Object.keys(byStatus)) if (!(status in out)) out[status] = byStatus[status] as T
  return out
}
