/**
 * Status counts and per-status id lists of one dataset's documents (jobs or
 * tasks): counts come from the trigger-maintained counts table, ids from the
 * (dataset_id, status) index, whose entries are in creation (rowid) order.
 */
import { and, eq, gt, sql } from 'drizzle-orm'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import { inStatusOrder, type StatusList } from '../status'
import type { Db } from './index'
import { prepared } from './query'

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

/** The two queries, for a module's queries.ts. */
export function statusQueries(db: Db, docs: StatusTrackedTable, counts: CountsTable) {
  return {
    statusCounts: prepared(db, () =>
      db
        .select({ status: sql<string>`${counts.status}`.as('status'), n: sql<number>`${counts.n}`.as('n') })
        .from(counts.table)
        .where(and(eq(counts.datasetId, p('dataset_id')), gt(counts.n, 0))),
    ),
    idsByStatus: prepared(db, () =>
      db
        .select({ id: sql<string>`${docs.id}`.as('id') })
        .from(docs.table)
        .where(and(eq(docs.datasetId, p('dataset_id')), eq(docs.status, p('status'))))
        .orderBy(sql`${docs.table}.rowid`),
    ),
  }
}

export type StatusQueries = ReturnType<typeof statusQueries>

export class DatasetStatuses {
  constructor(
    private readonly queries: StatusQueries,
    private readonly order: StatusList,
  ) {}

  /** `{status: count}` in status order (unknown statuses last), only statuses that occur. */
  counts(datasetId: string): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const row of this.queries.statusCounts.all({ dataset_id: datasetId })) counts[row.status] = row.n
    return inStatusOrder(this.order, counts)
  }

  /** `{status: [id, ...]}` in status order, ids in creation order. */
  summary(datasetId: string): Record<string, string[]> {
    const summary: Record<string, string[]> = {}
    for (const status of Object.keys(this.counts(datasetId))) {
      summary[status] = this.queries.idsByStatus.all({ dataset_id: datasetId, status }).map((row) => row.id)
    }
    return summary
  }
}
