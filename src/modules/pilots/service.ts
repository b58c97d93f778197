/**
 * Pilots: the pilot jobs running on worker nodes (API.md 4.9).
 */
import { eq, sql } from 'drizzle-orm'
import { writeTx, type Db } from '../../db'
import { mergePatch, newId, timestamp } from '../../db/documents'
import { systemClock, type Clock } from '../../clock'
import { pilots } from '../../db/schema'
import { lazy } from '../../db/lazy'
import { fail } from '../../errors'

type Document = Record<string, unknown>

export class PilotsService {
  private readonly byId = lazy(() => this.db.select({ doc: pilots.doc }).from(pilots).where(eq(pilots.pilotId, sql.placeholder('id'))).prepare())

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The pilots in creation order, optionally of one grid. */
  list(gridId: string | undefined): { id: string; doc: string }[] {
    const query = this.db.select({ id: pilots.pilotId, doc: pilots.doc }).from(pilots)
    return (gridId === undefined ? query : query.where(eq(pilots.gridId, gridId))).orderBy(sql`rowid`).all()
  }

  getJson(pilotId: string): string {
    return this.byId().get({ id: pilotId })?.doc ?? fail(404, `pilot ${pilotId} not found`)
  }

  /** Stores a new pilot with the documented defaults; the server's fields win. Returns its id. */
  create(body: Document): string {
    const pilotId = newId()
    const now = timestamp(this.clock())
    const doc = {
      tasks: [],
      host: '',
      version: '',
      grid_queue_id: '',
      available: {},
      claimed: {},
      ...body,
      pilot_id: pilotId,
      submit_time: now,
      start_date: now,
      last_update: now,
    }
    this.db.insert(pilots).values({ pilotId, doc: JSON.stringify(doc) }).run()
    return pilotId
  }

  /** Merges `patch` into the pilot and refreshes `last_update`; returns the updated pilot as JSON text. */
  patch(pilotId: string, patch: Document): string {
    return writeTx(this.db, () => {
      const stored = JSON.parse(this.getJson(pilotId)) as Document
      return this.save(pilotId, mergePatch(stored, patch, ['pilot_id']))
    })
  }

  /** Replaces the pilot's task list and refreshes `last_update`. */
  setTasks(pilotId: string, tasks: string[]): void {
    writeTx(this.db, () => {
      const stored = JSON.parse(this.getJson(pilotId)) as Document
      this.save(pilotId, { ...stored, tasks })
    })
  }

  delete(pilotId: string): void {
    const deleted = this.db.delete(pilots).where(eq(pilots.pilotId, pilotId)).returning({ id: pilots.pilotId }).all()
    if (deleted.length === 0) fail(404, `pilot ${pilotId} not found`)
  }

  private save(pilotId: string, doc: Document): string {
    const text = JSON.stringify({ ...doc, last_update: timestamp(this.clock()) })
    this.db.update(pilots).set({ doc: text }).where(eq(pilots.pilotId, pilotId)).run()
    return text
  }
}
