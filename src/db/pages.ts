/**
 * Pages of stored documents in creation order: what a listing streams (see
 * http/listing.ts). Each page is one short keyset query after the last rowid
 * sent, so no statement or read transaction stays open between pages.
 */

/** A stored document with its creation order (rowid) and id. */
export interface StoredRow {
  rowid: number
  id: string
  doc: string
}

/** Up to `limit` rows after `afterRowid`, in rowid order. */
export type PageFetcher = (afterRowid: number, limit: number) => StoredRow[]

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
