/** The pilots module's queries (see db/query.ts). */
import { eq, sql } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { pilots } from '../../db/schema'

const p = sql.placeholder
const idAndDoc = { id: sql<string>`${pilots.pilotId}`.as('id'), doc: pilots.doc }
const byCreation = sql`${pilots}.rowid`

export function pilotQueries(db: Db) {
  return {
    list: prepared(db, () => db.select(idAndDoc).from(pilots).orderBy(byCreation)),
    listOfGrid: prepared(db, () => db.select(idAndDoc).from(pilots).where(eq(pilots.gridId, p('grid_id'))).orderBy(byCreation)),
    doc: prepared(db, () => db.select({ doc: pilots.doc }).from(pilots).where(eq(pilots.pilotId, p('pilot_id')))),
    insert: prepared(db, () => db.insert(pilots).values({ pilotId: p('pilot_id'), doc: p('doc') })),
    saveDoc: prepared(db, () => db.update(pilots).set({ doc: sql`${p('doc')}` }).where(eq(pilots.pilotId, p('pilot_id')))),
    delete: prepared(db, () => db.delete(pilots).where(eq(pilots.pilotId, p('pilot_id'))).returning({ doc: pilots.doc })),
  }
}
