/**
 * The JSON-document store pattern's helpers: ids, timestamps and merges.
 */
import { systemClock } from '../clock'
import { fail } from '../errors'

/** A stored document, parsed. */
export type Document = Record<string, unknown>

/** A new id: a time-ordered UUIDv7 as 32 lowercase hex characters. */
export function newId(): string {
  return Bun.randomUUIDv7().replaceAll('-', '')
}

/** The last moment the timestamp form can write (four-digit years). */
export const LATEST_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** A time (a Clock's reading) as `2018-02-19T17:18:19.123456` (UTC, microseconds, no zone), IceProd's form. */
export function timestamp(epochMs: number = systemClock()): string {
  return timestampOfMicros(Math.floor(epochMs * 1000))
}

/** A time in whole microseconds since the epoch in IceProd's form (see `timestamp`). */
export function timestampOfMicros(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19) + '.' + String(micros % 1_000_000).padStart(6, '0')
}

/**
 * A PATCH merge: top-level keys of `patch` replace those of `stored`. Refuses an
 * empty patch and any change of the document's own id or of `protectedKeys`.
 */
export function mergePatch(stored: Document, patch: Document, protectedKeys: string[]): Document {
  if (Object.keys(patch).length === 0) fail(400, 'empty body')
  for (const key of protectedKeys) {
    if (key in patch && patch[key] !== stored[key]) fail(400, `key ${key} cannot be changed`)
  }
  return { ...stored, ...patch }
}
