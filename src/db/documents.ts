/**
 * The JSON-document store pattern's helpers: ids, timestamps, merges,
 * projections and collections built from stored JSON text.
 */
import { systemClock } from '../clock'
import { fail } from '../http/errors'

/** A new id: a time-ordered UUIDv7 as 32 lowercase hex characters. */
export function newId(): string {
  return Bun.randomUUIDv7().replaceAll('-', '')
}

/** A time (a Clock's reading) as `2018-02-19T17:18:19.123456` (UTC, microseconds, no zone), IceProd's form. */
export function timestamp(epochMs: number = systemClock()): string {
  const micros = Math.floor(epochMs * 1000) % 1_000_000
  return new Date(Math.floor(epochMs)).toISOString().slice(0, 19) + '.' + String(micros).padStart(6, '0')
}

/** `{"<id>": <doc>, ...}` from rows whose doc is stored JSON text, without re-parsing. */
export function collectionJson(rows: Iterable<{ id: string; doc: string }>): string {
  let out = '{'
  let first = true
  for (const row of rows) {
    out += (first ? '' : ',') + JSON.stringify(row.id) + ':' + row.doc
    first = false
  }
  return out + '}'
}

/** Parses a `keys` query parameter (`a|b|c`); undefined when absent. */
export function parseKeys(keys: string | undefined): string[] | undefined {
  if (keys === undefined) return undefined
  const list = keys.split('|').filter((k) => k.length > 0)
  if (list.length === 0) fail(400, 'bad query parameter: keys')
  return list
}

/** The document limited to `keys` plus its own id field. */
export function project(doc: Record<string, unknown>, keys: string[], idField: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (idField in doc) out[idField] = doc[idField]
  for (const key of keys) if (key in doc) out[key] = doc[key]
  return out
}

/** JSON text of a stored doc, projected to `keys` when given. */
export function projectedJson(doc: string, keys: string[] | undefined, idField: string): string {
  return keys ? JSON.stringify(project(JSON.parse(doc), keys, idField)) : doc
}

/**
 * A PATCH merge: top-level keys of `patch` replace those of `stored`. Refuses an
 * empty patch and any change of the document's own id or of `protectedKeys`.
 */
export function mergePatch(
  stored: Record<string, unknown>,
  patch: Record<string, unknown>,
  protectedKeys: string[],
): Record<string, unknown> {
  if (Object.keys(patch).length === 0) fail(400, 'empty body')
  for (const key of protectedKeys) {
    if (key in patch && patch[key] !== stored[key]) fail(400, `key ${key} cannot be changed`)
  }
  return { ...stored, ...patch }
}
