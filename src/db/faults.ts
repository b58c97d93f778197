/**
 * Storage conditions that refuse a request without being a fault of the
 * server. Only this file knows how SQLite reports them; the HTTP layer turns
 * them into statuses (http/errors.ts).
 */

/**
 * `locked`: another process holds the write lock past the write's deadline
 * (try again shortly); `full`: the database's filesystem has no room for the write.
 */
export type Unavailability = 'locked' | 'full'

/** Thrown where storage refuses a write before SQLite reports anything (a lock wait that ran out). */
export class StorageUnavailable extends Error {
  constructor(
    readonly reason: Unavailability,
    message: string,
  ) {
    super(message)
  }
}

/** SQLite's primary result codes (the low byte of an extended code). */
const SQLITE_BUSY = 5
const SQLITE_FULL = 13

/** Why `error` is a storage condition rather than a fault; undefined when it is not one. */
export function unavailability(error: unknown): Unavailability | undefined {
  if (error instanceof StorageUnavailable) return error.reason
  const { errno, code } = (error ?? {}) as { errno?: unknown; code?: unknown }
  if (typeof errno !== 'number' || typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined
  switch (errno & 0xff) {
    case SQLITE_BUSY:
      return 'locked'
    case SQLITE_FULL:
      return 'full'
    default:
      return undefined
  }
}
