/**
 * Why the server changed a status, as stored in the history: each reason is
 * kept as its position in this list, so entries are only ever appended.
 */
export const SERVER_REASONS = [
  'dependencies complete',
  'no dependencies',
  'retry after reset',
  'failures exceed max_failures',
  'dataset in debug mode',
  'a dependency runs again',
  'all tasks complete',
  'tasks failed, none active',
  'tasks suspended, none active',
  'a task is active again',
  'all jobs complete',
  'jobs have errors, none processing',
  'jobs stopped, none processing',
  'a job is processing again',
  'more jobs to make',
  'its pilot was deleted',
  'its pilot timed out',
  'lost: no pilot lists it',
  'dependencies not complete',
] as const

export type ServerReason = (typeof SERVER_REASONS)[number]

const CODES = new Map<string, number>(SERVER_REASONS.map((reason, code) => [reason, code]))

/** The stored code of a server reason. */
export function reasonCode(reason: ServerReason): number {
  return CODES.get(reason)!
}
