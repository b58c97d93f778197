/**
 * Status counts and per-status id lists of one dataset's documents (jobs or
 * tasks): counts come from the trigger-maintained counts table, ids from the
 * (dataset_id, status) index, whose entries are in creation (rowid) order.
 */
import { and, eq, sql } from 'drizzle-orm'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import { inStatusOrder, type StatusList } from '../status'
import type { Db } from './index'
import { lazy } from './lazy'

export interface StatusTrackedTable {
  table: SQLiteTable
  id: SQLiteColumn
  datasetId: SQLiteColumn
  status: SQLiteColumn
}

export interface CountsTable {
  table: SQLiteTable
  datasetId: SQLiteColumn
  status: SQLiteColumn
  n: SQLiteColumn
}

const p = sql.placeholder

export class DatasetStatuses {
  readonly countsQuery
  readonly idsByStatusQuery

  constructor(
    db: Db,
    docs: StatusTrackedTable,
    counts: CountsTable,
    private readonly order: StatusList,
  ) {
    this.countsQuery = lazy(() =>
      db
        .select({ status: sql<string>`${counts.status}`, n: sql<number>`${counts.n}` })
        .from(counts.table)
        .where(and(eq(counts.datasetId, p('dataset_id')), sql`${counts.n} > 0`))
        .prepare(),
    )
    this.idsByStatusQuery = lazy(() =>
      db
        .select({ id: sql<string>`${docs.id}` })
        .from(docs.table)
        .where(and(eq(docs.datasetId, p('dataset_id')), eq(docs.status, p('status'))))
        .orderBy(sql`${docs.table}.rowid`)
        .prepare(),
    )
  }

  /** `{status: count}` in status order (unknown statuses last), only statuses that occur. */
  counts(datasetId: string): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const row of this.countsQuery().all({ dataset_id: datasetId })) counts[row.status] = row.n
    return inStatusOrder(this.order, counts)
  }

  /** `{status: [id, ...]}` in status order, ids in creation order. */
  summary(datasetId: string): Record<string, string[]> {
    const summary: Record<string, string[]> = {}
    for (const status of Object.keys(this.counts(datasetId))) {
      summary[status] = this.idsByStatusQuery().all({ dataset_id: datasetId, status }).map((row) => row.id)
    }
    return summary
  }
}
