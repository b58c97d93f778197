/** The logs module's queries (see db/query.ts). */
import { and, desc, eq, sql } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { logs } from '../../db/schema'

const p = sql.placeholder

/** The columns a stored log is read back from. */
const logColumns = { doc: logs.doc, encoding: logs.encoding, data: logs.data }

export function logQueries(db: Db) {
  return {
    insert: prepared(db, () => db.insert(logs).values({ logId: p('log_id'), encoding: p('encoding'), data: p('data'), doc: p('doc') })),
    log: prepared(db, () => db.select(logColumns).from(logs).where(eq(logs.logId, p('log_id')))),
    logInDataset: prepared(db, () =>
      db
        .select(logColumns)
        .from(logs)
        .where(and(eq(logs.logId, p('log_id')), eq(logs.datasetId, p('dataset_id')))),
    ),
    // Ids and names only (stored ahead of the text in each row): which logs to
    // return is decided before any document or text is read.
    taskLogs: prepared(db, () =>
      db
        .select({ id: sql<string>`${logs.logId}`.as('id'), name: logs.name })
        .from(logs)
        .where(and(eq(logs.datasetId, p('dataset_id')), eq(logs.taskId, p('task_id'))))
        .orderBy(desc(sql`${logs}.rowid`)),
    ),
    doc: prepared(db, () => db.select({ doc: logs.doc }).from(logs).where(eq(logs.logId, p('log_id')))),
  }
}
