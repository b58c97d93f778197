/** The datasets module's queries (see db/query.ts). */
import { eq, sql } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { auths, datasets, jobCounts, sequences } from '../../db/schema'

const p = sql.placeholder
const rowid = sql<number>`${datasets}.rowid`

export function datasetQueries(db: Db) {
  /** Datasets with their access rules (JSON text, null without one), in creation order. */
  const listWithRules = () =>
    db
      .select({ rowid, id: sql<string>`${datasets.datasetId}`.as('id'), doc: datasets.doc, rule: sql<string | null>`${auths.doc}`.as('rule') })
      .from(datasets)
      .leftJoin(auths, eq(auths.datasetId, datasets.datasetId))
  return {
    nextNumber: prepared(db, () =>
      db
        .update(sequences)
        .set({ value: sql`${sequences.value} + 1` })
        .where(eq(sequences.name, 'dataset'))
        .returning({ value: sequences.value }),
    ),
    insert: prepared(db, () => db.insert(datasets).values({ datasetId: p('dataset_id'), doc: p('doc') })),
    doc: prepared(db, () => db.select({ doc: datasets.doc }).from(datasets).where(eq(datasets.datasetId, p('dataset_id')))),
    // What a status change reports: the dataset's rowid (its history's key) and the status it leaves.
    state: prepared(db, () => db.select({ rowid, status: sql<string>`${datasets.status}`.as('status') }).from(datasets).where(eq(datasets.datasetId, p('dataset_id')))),
    list: prepared(db, () => listWithRules().orderBy(rowid)),
    // The (status) index's entries for one status are in rowid order.
    listByStatus: prepared(db, () => listWithRules().where(eq(datasets.status, p('status'))).orderBy(rowid)),
    // One json_set on the document.
    setField: prepared(db, () =>
      db
        .update(datasets)
        .set({ doc: sql`json_set(${datasets.doc}, ${p('path')}, json(${p('value')}))` })
        .where(eq(datasets.datasetId, p('dataset_id')))
        .returning({ dataset_id: datasets.datasetId }),
    ),
    jobsCreated: prepared(db, () =>
      db
        .select({ n: sql<number>`coalesce(sum(${jobCounts.n}), 0)`.as('n') })
        .from(jobCounts)
        .where(eq(jobCounts.datasetId, p('dataset_id'))),
    ),
  }
}
