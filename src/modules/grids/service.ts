/**
 * Grids: the registered grid site servers (API.md 4.8).
 */
import { eq, sql } from 'drizzle-orm'
import { writeTx, type Db } from '../../db'
import { mergePatch, newId, timestamp } from '../../db/documents'
import { systemClock, type Clock } from '../../clock'
import { grids } from '../../db/schema'
import { lazy } from '../../db/lazy'
import { fail } from '../../errors'

type Document = Record<string, unknown>

export class GridsService {
  private readonly byId = lazy(() => this.db.select({ doc: grids.doc }).from(grids).where(eq(grids.gridId, sql.placeholder('id'))).prepare())

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The grids in creation order. */
  list(): { id: string; doc: string }[] {
    return this.db.select({ id: grids.gridId, doc: grids.doc }).from(grids).orderBy(sql`rowid`).all()
  }

  getJson(gridId: string): string {
    return this.byId().get({ id: gridId })?.doc ?? fail(404, `grid ${gridId} not found`)
  }

  /** Stores a new grid; the server's fields win over the client's. Returns its id. */
  create(body: Document, username: string): string {
    const gridId = newId()
    const now = timestamp(this.clock())
    const doc = { debug: false, ...body, grid_id: gridId, start_date: now, last_update: now, username }
    this.db.insert(grids).values({ gridId, doc: JSON.stringify(doc) }).run()
    return gridId
  }

  /** Merges `patch` into the grid and refreshes `last_update`; returns the updated grid as JSON text. */
  patch(gridId: string, patch: Document): string {
    return writeTx(this.db, () => {
      const stored = JSON.parse(this.getJson(gridId)) as Document
      const merged = { ...mergePatch(stored, patch, ['grid_id']), last_update: timestamp(this.clock()) }
      const doc = JSON.stringify(merged)
      this.db.update(grids).set({ doc }).where(eq(grids.gridId, gridId)).run()
      return doc
    })
  }
}
