/**
 * Listing helpers shared by the datasets, jobs, tasks and logs modules:
 * strict query-parameter parsing and collections streamed page by page.
 *
 * Large collections (a dataset's tasks can number millions) are never built
 * in memory: the response body is a stream that fetches the next page of
 * stored rows, after the last rowid sent, each time the client has taken the
 * previous one. Each page is one short query, so no statement or read
 * transaction stays open while the client reads, and concurrent listings
 * cannot disturb each other.
 */
import { fail } from './errors'
import { jsonText, type JsonText } from './respond'
import { checkStatus, type StatusList } from '../status'

/** Rows fetched per page: large enough to amortise the query, small enough to keep memory flat. */
export const PAGE_SIZE = 1000

/** A stored document with its creation order (rowid) and id. */
export interface StoredRow {
  rowid: number
  id: string
  doc: string
}

/** Up to `limit` rows after `afterRowid`, in rowid order. */
export type PageFetcher = (afterRowid: number, limit: number) => StoredRow[]

export interface StreamedCollection {
  /** Text before the first entry, e.g. `{` or `{"tasks":[`. */
  open: string
  /** Text after the last entry, e.g. `}` or `]}`. */
  close: string
  fetch: PageFetcher
  /** The JSON text of one entry, e.g. `"<id>":<doc>`. */
  entry: (row: StoredRow) => string
}

/**
 * The collection as a JSON response. The first page is read before
 * answering, so a collection that fits in one page (and any query error) is
 * answered as a plain body; larger ones stream the remaining pages.
 */
export function collectionResponse({ open, close, fetch, entry }: StreamedCollection): Response | JsonText {
  let rows = fetch(0, PAGE_SIZE)
  let body = open + rows.map(entry).join(',')
  if (rows.length < PAGE_SIZE) return jsonText(body + close)

  let after = rows[rows.length - 1]!.rowid
  const encoder = new TextEncoder()
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(encoder.encode(body))
        body = ''
      },
      pull(controller) {
        rows = fetch(after, PAGE_SIZE)
        const chunk = rows.length > 0 ? ',' + rows.map(entry).join(',') : ''
        if (rows.length < PAGE_SIZE) {
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

/**
 * Merges several rowid-ordered page fetchers into one (e.g. one per status of
 * a `status=a|b` filter), each served by its own index, still in rowid order.
 */
export function mergedFetcher(fetchers: PageFetcher[]): PageFetcher {
  if (fetchers.length === 1) return fetchers[0]!
  return (afterRowid, limit) => {
    const all = fetchers.flatMap((fetch) => fetch(afterRowid, limit))
    all.sort((a, b) => a.rowid - b.rowid)
    return all.slice(0, limit)
  }
}

/** A `status` query filter: one status or several separated by `|`, each checked (400 `bad status: x`). */
export function parseStatusFilter(list: StatusList, raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined
  return [...new Set(raw.split('|').map((status) => checkStatus(list, status)))]
}

const INTEGER = /^-?\d+$/

/** An integer query parameter (decimal digits only), 400 naming the parameter otherwise. */
export function queryInteger(name: string, raw: string | undefined, minimum = Number.MIN_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined
  const value = Number(raw)
  if (!INTEGER.test(raw) || !Number.isSafeInteger(value)) fail(400, `query parameter ${name} must be an integer`)
  if (value < minimum) fail(400, `query parameter ${name} must be at least ${minimum}`)
  return value
}

/** A boolean query parameter: `true` or `false` (any case), 400 naming the parameter otherwise. */
export function queryBoolean(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined
  const value = raw.toLowerCase()
  if (value !== 'true' && value !== 'false') fail(400, `query parameter ${name} must be true or false`)
  return value === 'true'
}

/** A query parameter that must be one of `choices`; the first choice when absent. */
export function queryChoice<const T extends string>(name: string, raw: string | undefined, choices: readonly [T, ...T[]]): T {
  if (raw === undefined) return choices[0]
  if (!(choices as readonly string[]).includes(raw)) fail(400, `query parameter ${name} must be ${choices.join(' or ')}`)
  return raw as T
}

/**
 * 400 when a query parameter the route declares in `schema` is given more
 * than once: Elysia keeps only the last value, so `?status=bogus&status=idle`
 * would pass with the bad one unseen.
 */
export function refuseRepeated(url: string, schema: { properties: object }): void {
  const start = url.indexOf('?')
  if (start < 0 || url.indexOf('&', start) < 0) return
  const seen = new Set<string>()
  for (const name of new URLSearchParams(url.slice(start + 1)).keys()) {
    if (!Object.hasOwn(schema.properties, name)) continue
    if (seen.has(name)) fail(400, `query parameter ${name} given more than once`)
    seen.add(name)
  }
}
