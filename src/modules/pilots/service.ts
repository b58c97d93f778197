/**
 * Pilots: the pilot jobs running on worker nodes (API.md 4.9).
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { mergePatch, newId, timestamp, type Document } from '../../db/documents'
import { fail } from '../../errors'
import type { PilotModel } from './model'
import { pilotQueries } from './queries'
import type { Transitions } from '../scheduler/transitions'

export type NewPilot = typeof PilotModel.create.static
export type PilotPatch = typeof PilotModel.patch.static

export class PilotsService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly transitions: Transitions,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = pilotQueries(db)
  }

  /** The pilots in creation order, optionally of one grid. */
  list(gridId: string | undefined): { id: string; doc: string }[] {
    return gridId === undefined ? this.queries.list.all() : this.queries.listOfGrid.all({ grid_id: gridId })
  }

  getJson(pilotId: string): string {
    return this.queries.doc.get({ pilot_id: pilotId })?.doc ?? fail(404, `pilot ${pilotId} not found`)
  }

  /** Stores a new pilot with the documented defaults; the server's fields win. Returns its id. */
  async create(body: NewPilot): Promise<string> {
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
    await writeTx(this.db, () => this.queries.insert.run({ pilot_id: pilotId, doc: JSON.stringify(doc) }))
    return pilotId
  }

  /** Merges `patch` into the pilot and refreshes `last_update`; returns the updated pilot as JSON text. */
  patch(pilotId: string, patch: PilotPatch): Promise<string> {
    return writeTx(this.db, () => {
      const stored = JSON.parse(this.getJson(pilotId)) as Document
      return this.save(pilotId, mergePatch(stored, patch, ['pilot_id']))
    })
  }

  /** Replaces the pilot's task list and refreshes `last_update`. */
  async setTasks(pilotId: string, tasks: string[]): Promise<void> {
    await writeTx(this.db, () => {
      const stored = JSON.parse(this.getJson(pilotId)) as Document
      this.save(pilotId, { ...stored, tasks })
    })
  }

  /** Deletes the pilot; with the scheduler, its tasks still processing are reset in the same transaction (§6.4). */
  async delete(pilotId: string): Promise<void> {
    await writeTx(this.db, () => {
      const deleted = this.queries.delete.get({ pilot_id: pilotId }) ?? fail(404, `pilot ${pilotId} not found`)
      this.transitions.evict(listedTasks(deleted.doc), 'its pilot was deleted')
    })
  }

  private save(pilotId: string, doc: Document): string {
    const text = JSON.stringify({ ...doc, last_update: timestamp(this.clock()) })
    this.queries.saveDoc.run({ pilot_id: pilotId, doc: text })
    return text
  }
}

/** The task ids a pilot document lists in its `tasks`. */
export function listedTasks(doc: string): string[] {
  const tasks = (JSON.parse(doc) as Document).tasks
  return Array.isArray(tasks) ? tasks.filter((task): task is string => typeof task === 'string') : []
}
