/**
 * Storage conditions that refuse a request without being a fault of the
 * server. Only this file knows how SQLite reports them; the HTTP layer turns
 * them into statuses (http/errors.ts).
 */

/** `full`: the database's filesystem has no room for the write. */
export type Unavailability = 'full'

/** SQLite's primary result codes (the low byte of an extended code). */
const SQLITE_FULL = 13

/** Why `error` is a storage condition rather than a fault; undefined when it is not one. */
export function unavailability(error: unknown): Unavailability | undefined {
  const { errno, code } = (error ?? {}) as { errno?: unknown; code?: unknown }
  if (typeof errno !== 'number' || typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined
  return (errno & 0xff) === SQLITE_FULL ? 'full' : undefined
}
