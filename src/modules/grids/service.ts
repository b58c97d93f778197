/**
 * Grids: the registered grid site servers (API.md 4.8).
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { mergePatch, newId, timestamp, type Document } from '../../db/documents'
import { fail } from '../../errors'
import type { GridModel } from './model'
import { gridQueries } from './queries'

export type NewGrid = typeof GridModel.create.static
export type GridPatch = typeof GridModel.patch.static

export class GridsService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = gridQueries(db)
  }

  /** The grids in creation order. */
  list(): { id: string; doc: string }[] {
    return this.queries.list.all()
  }

  getJson(gridId: string): string {
    return this.queries.doc.get({ grid_id: gridId })?.doc ?? fail(404, `grid ${gridId} not found`)
  }

  /** Stores a new grid; the server's fields win over the client's. Returns its id. */
  async create(body: NewGrid, username: string): Promise<string> {
    const gridId = newId()
    const now = timestamp(this.clock())
    const doc = { debug: false, ...body, grid_id: gridId, start_date: now, last_update: now, username }
    await writeTx(this.db, () => this.queries.insert.run({ grid_id: gridId, doc: JSON.stringify(doc) }))
    return gridId
  }

  /** Merges `patch` into the grid and refreshes `last_update`; returns the updated grid as JSON text. */
  patch(gridId: string, patch: GridPatch): Promise<string> {
    return writeTx(this.db, () => {
      const stored = JSON.parse(this.getJson(gridId)) as Document
      const doc = JSON.stringify({ ...mergePatch(stored, patch, ['grid_id']), last_update: timestamp(this.clock()) })
      this.queries.saveDoc.run({ grid_id: gridId, doc })
      return doc
    })
  }
}
