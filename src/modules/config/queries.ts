/** The config module's queries (see db/query.ts). */
import { eq, sql } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { configs, datasets } from '../../db/schema'

const p = sql.placeholder

export function configQueries(db: Db) {
  return {
    doc: prepared(db, () => db.select({ doc: configs.doc }).from(configs).where(eq(configs.datasetId, p('dataset_id')))),
    datasetExists: prepared(db, () => db.select({ dataset_id: datasets.datasetId }).from(datasets).where(eq(datasets.datasetId, p('dataset_id')))),
    upsert: prepared(db, () =>
      db
        .insert(configs)
        .values({ datasetId: p('dataset_id'), doc: p('doc') })
        .onConflictDoUpdate({ target: configs.datasetId, set: { doc: sql`excluded.doc` } }),
    ),
  }
}
