/** The grids module's queries (see db/query.ts). */
import { eq, sql } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { grids } from '../../db/schema'

const p = sql.placeholder

export function gridQueries(db: Db) {
  return {
    list: prepared(db, () => db.select({ id: sql<string>`${grids.gridId}`.as('id'), doc: grids.doc }).from(grids).orderBy(sql`${grids}.rowid`)),
    doc: prepared(db, () => db.select({ doc: grids.doc }).from(grids).where(eq(grids.gridId, p('grid_id')))),
    insert: prepared(db, () => db.insert(grids).values({ gridId: p('grid_id'), doc: p('doc') })),
    saveDoc: prepared(db, () => db.update(grids).set({ doc: sql`${p('doc')}` }).where(eq(grids.gridId, p('grid_id')))),
  }
}
