/**
 * Collections and documents as response text, built from stored JSON text:
 * projections to `keys`, `{id: doc}` objects, and collections streamed page
 * by page.
 *
 * Large collections (a dataset's tasks can number millions) are never built
 * in memory: the response body is a stream that fetches the next page of
 * stored rows, after the last rowid sent, each time the client has taken the
 * previous one. Each page is one short query, so no statement or read
 * transaction stays open while the client reads, and concurrent listings
 * cannot disturb each other.
 */
import type { PageFetcher, StoredRow } from '../db/pages'
import { jsonText, type JsonText } from './respond'

/** Rows fetched per page: large enough to amortise the query, small enough to keep memory flat. */
export const PAGE_SIZE = 1000

/**
 * The document limited to `keys` plus its own id field. Only its own keys
 * count, into an object without a prototype, so that `__proto__` is a key
 * like any other and `toString` none.
 */
export function project(doc: Record<string, unknown>, keys: string[], idField: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null)
  if (Object.hasOwn(doc, idField)) out[idField] = doc[idField]
  for (const key of keys) if (Object.hasOwn(doc, key)) out[key] = doc[key]
  return out
}

/** JSON text of a stored doc, projected to `keys` when given. */
export function projectedJson(doc: string, keys: string[] | undefined, idField: string): string {
  return keys ? JSON.stringify(project(JSON.parse(doc), keys, idField)) : doc
}

/** `{"<id>": <doc>, ...}` from rows whose doc is stored JSON text, each projected to `keys` when given. */
export function keyedCollection(rows: Iterable<{ id: string; doc: string }>, keys: string[] | undefined, idField: string): JsonText {
  let out = '{'
  let first = true
  for (const row of rows) {
    out += (first ? '' : ',') + JSON.stringify(row.id) + ':' + projectedJson(row.doc, keys, idField)
    first = false
  }
  return jsonText(out + '}')
}

export interface StreamedCollection {
  /** Text before the first entry, e.g. `{` or `{"tasks":[`. */
  open: string
  /** Text after the last entry, e.g. `}` or `]}`. */
  close: string
  fetch: PageFetcher
  /** The JSON text of one entry, e.g. `"<id>":<doc>`. */
  entry: (row: StoredRow) => string
  /** Start after this rowid (keyset paging: `after` names the last entry of the previous page); 0 for the start. */
  after?: number
  /** At most this many entries; all when absent. */
  limit?: number
}

/**
 * The collection as a JSON response. The first page is read before
 * answering, so a collection that fits in one page (and any query error) is
 * answered as a plain body; larger ones stream the remaining pages.
 */
export function collectionResponse({ open, close, fetch, entry, after: start = 0, limit = Infinity }: StreamedCollection): Response | JsonText {
  // Each page asks for no more than the entries still wanted; a page shorter than asked is the last.
  let remaining = limit
  const nextPage = (after: number) => {
    const wanted = Math.min(PAGE_SIZE, remaining)
    const rows = fetch(after, wanted)
    remaining -= rows.length
    return { rows, last: rows.length < wanted || remaining === 0 }
  }
  let { rows, last } = nextPage(start)
  let body = open + rows.map(entry).join(',')
  if (last) return jsonText(body + close)

  let after = rows[rows.length - 1]!.rowid
  const encoder = new TextEncoder()
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(encoder.encode(body))
        body = ''
      },
      pull(controller) {
        ;({ rows, last } = nextPage(after))
        const chunk = rows.length > 0 ? ',' + rows.map(entry).join(',') : ''
        if (last) {
          controller.enqueue(encoder.encode(chunk + close))
          controller.close()
          return
        }
        after = rows[rows.length - 1]!.rowid
        controller.enqueue(encoder.encode(chunk))
      },
    },
    // One page buffered ahead at most: memory stays flat whatever the collection's size.
    { highWaterMark: 1 },
  )
  return new Response(stream, { headers: { 'content-type': 'application/json' } })
}
