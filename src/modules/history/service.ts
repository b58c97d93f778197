/**
 * Status history (API.md §7.1): every status change of a dataset, job or task
 * appends an entry `{time, from, to, by, reason?}`, written in the
 * transaction of the change itself (see scheduler/transitions.ts, the one
 * place that calls `record`). Entries are compact rows (see the schema's
 * `status_history`); a resource's history is read with one indexed query.
 */
import { systemClock, type Clock } from '../../clock'
import type { Db } from '../../db'
import { timestampOfMicros } from '../../db/documents'
import { fail } from '../../errors'
import { DATASET_STATUSES, JOB_STATUSES, TASK_STATUSES, type StatusList } from '../../status'
import type { Prepared } from '../../db/query'
import { historyQueries, KIND_CODES } from './queries'
import { reasonCode, SERVER_REASONS, type ServerReason } from './reasons'

/** The server itself, as `by` says it. */
export const SERVER = 'server'

/** Who changed a status: the bearer of the request's token, or the server. */
export type Actor = { readonly username: string; readonly role: string } | typeof SERVER

export type ResourceKind = 'dataset' | 'job' | 'task'

/** An entry with the ids of where it happened (null where they do not apply), as the event stream sends it. */
export interface LocatedEntry extends HistoryEntry {
  dataset_id: string | null
  job_id: string | null
  task_id: string | null
}

export interface HistoryEntry {
  time: string
  from: string
  to: string
  by: { username: string; role: string } | typeof SERVER
  reason?: string
}

/** What a change records: the subject's rowid, both statuses, who, and why (a server reason, or a client's text). */
export interface StatusChange {
  kind: ResourceKind
  subject: number
  from: string
  to: string
  by: Actor
  reason?: string
}

const STATUSES: Record<ResourceKind, StatusList> = { dataset: DATASET_STATUSES, job: JOB_STATUSES, task: TASK_STATUSES }
/** Kinds by their code. */
const KINDS = Object.keys(KIND_CODES) as ResourceKind[]

/** How entries name kinds, statuses and server reasons: by their position in these lists (for readers of the raw table). */
export const HISTORY_CODES = {
  kinds: ['dataset', 'job', 'task'],
  statuses: [STATUSES.dataset, STATUSES.job, STATUSES.task],
  reasons: SERVER_REASONS,
} as const

/** An entry's row, as queries.ts's readers select it (nullable where a resource's row has no entry joined). */
interface EntryRow {
  time: number | null
  from_status: number | null
  to_status: number | null
  username: string | null
  role: string | null
  reason_code: number | null
  reason: string | null
}

/** Who made an entry's change, from its row. */
function byOf(row: Pick<EntryRow, 'username' | 'role'>): HistoryEntry['by'] {
  return row.username === null ? SERVER : { username: row.username, role: row.role ?? '' }
}

/** The entry of a row that holds one (its time is not null), its statuses and server reason decoded. */
function entryOf(statuses: StatusList, row: EntryRow): HistoryEntry {
  const entry: HistoryEntry = { time: timestampOfMicros(row.time!), from: statuses[row.from_status!]!, to: statuses[row.to_status!]!, by: byOf(row) }
  const reason = row.reason_code !== null ? SERVER_REASONS[row.reason_code] : row.reason
  if (reason !== null && reason !== undefined) entry.reason = reason
  return entry
}

export class HistoryService {
  private readonly queries

  constructor(
    db: Db,
    /** The time an entry is written at. */
    private readonly clock: Clock = systemClock,
    /**
     * Entries are written (default true). Only the history benchmark turns
     * this off, to measure what the history costs; the server always writes it.
     */
    private readonly recording = true,
  ) {
    this.queries = historyQueries(db)
  }

  /** Appends one entry; inside the transaction that made the change. */
  record(change: StatusChange): void {
    if (!this.recording) return
    const statuses = STATUSES[change.kind]
    const server = change.by === SERVER
    const reason = change.reason
    this.queries.insert.run({
      kind: KIND_CODES[change.kind],
      subject: change.subject,
      time: Math.floor(this.clock() * 1000),
      from: statuses.indexOf(change.from),
      to: statuses.indexOf(change.to),
      username: server ? null : (change.by as Exclude<Actor, typeof SERVER>).username,
      role: server ? null : (change.by as Exclude<Actor, typeof SERVER>).role,
      reason_code: server && reason !== undefined ? reasonCode(reason as ServerReason) : null,
      reason: !server && reason !== undefined ? reason : null,
    })
  }

  /**
   * Appends the entries `entries` makes (an INSERT ... SELECT from
   * queries.ts's `entriesFrom`, by the server or by a client as `by` is), in
   * one statement, inside the transaction that made the changes: the
   * set-based changes of the bulk actions.
   */
  recordSelected(entries: Prepared<unknown>, by: Actor): void {
    if (!this.recording) return
    const time = { history_time: Math.floor(this.clock() * 1000) }
    entries.run(by === SERVER ? time : { ...time, history_username: by.username, history_role: by.role })
  }

  /**
   * The history of a dataset (`id` = its dataset id), or of a job or task of
   * the dataset, oldest first; with `newest`, only the newest n entries.
   * 404 when there is no such resource in the dataset.
   */
  list(kind: ResourceKind, datasetId: string, id: string, newest?: number): HistoryEntry[] {
    const rows = this.queries[kind].all({ dataset_id: datasetId, id, limit: newest ?? -1 })
    if (rows.length === 0) fail(404, `${kind} ${id} not found`)
    const statuses = STATUSES[kind]
    const entries: HistoryEntry[] = []
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i]!
      // The one row of a resource without history carries only its subject.
      if (row.time === null) continue
      entries.push(entryOf(statuses, row))
    }
    return entries
  }

  /**
   * The entries written after `afterEntry`, in the order they were written
   * (commit order: one writer at a time), at most `limit`, each with where it
   * happened: for the live event stream (API.md §8).
   */
  since(afterEntry: number, limit: number): { entry: number; event: LocatedEntry }[] {
    return this.queries.since.all({ after: afterEntry, limit }).map((row) => {
      const statuses = STATUSES[KINDS[row.kind]!]
      const event: LocatedEntry = { dataset_id: row.dataset_id, job_id: row.job_id, task_id: row.task_id, ...entryOf(statuses, row) }
      return { entry: row.entry, event }
    })
  }

  /** The newest entry's number (0 when there is none): a reader of `since` from there sees only what comes next. */
  lastEntry(): number {
    return this.queries.lastEntry.get()?.entry ?? 0
  }

  /**
   * The newest entry of a resource (by its rowid) other than the server's
   * moves between two of `among`, without its time and reason; undefined when
   * there is none. The roll-up finds with it what the server stopped a
   * dataset from, however often it moved it between stopped statuses since.
   */
  lastOutside(kind: ResourceKind, subject: number, among: readonly string[]): Pick<HistoryEntry, 'from' | 'to' | 'by'> | undefined {
    const statuses = STATUSES[kind]
    const codes = JSON.stringify(among.map((status) => statuses.indexOf(status)))
    const row = this.queries.lastOutside.get({ kind: KIND_CODES[kind], subject, among: codes })
    if (!row) return undefined
    return { from: statuses[row.from_status]!, to: statuses[row.to_status]!, by: byOf(row) }
  }
}
