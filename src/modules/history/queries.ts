/** The status history's queries (see db/query.ts). */
import { and, desc, eq, sql, type SQL } from 'drizzle-orm'
import type { Subquery } from 'drizzle-orm'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { datasets, jobs, statusHistory, tasks } from '../../db/schema'
import { SERVER_REASONS } from './reasons'

const p = sql.placeholder
/**
 * `column = +placeholder`: the resource's row is the outer table of the read's
 * join, and there a bare parameter costs about 10 µs more a lookup than an
 * expression does (see the roll-up's jobState in scheduler/rollup.ts).
 */
const keyIs = (column: SQLiteColumn, name: string) => sql`${column} = +${p(name)}`
const inDataset = (idColumn: SQLiteColumn, datasetColumn: SQLiteColumn) => and(keyIs(idColumn, 'id'), keyIs(datasetColumn, 'dataset_id'))!

/** Where a resource's history hangs: its kind's code, its table, its rowid, and how it is found by the placeholders `id` and `dataset_id`. */
interface Subject {
  code: number
  table: SQLiteTable
  rowid: SQL
  where: SQL
}

/** The kinds' codes in status_history.kind. */
export const KIND_CODES = { dataset: 0, job: 1, task: 2 } as const

const SUBJECTS = {
  dataset: { code: KIND_CODES.dataset, table: datasets, rowid: sql`${datasets}.rowid`, where: keyIs(datasets.datasetId, 'dataset_id') },
  job: { code: KIND_CODES.job, table: jobs, rowid: sql`${jobs}.rowid`, where: inDataset(jobs.jobId, jobs.datasetId) },
  task: { code: KIND_CODES.task, table: tasks, rowid: sql`${tasks}.rowid`, where: inDataset(tasks.taskId, tasks.datasetId) },
} satisfies Record<keyof typeof KIND_CODES, Subject>

/** The columns of one entry, as every reader of the history selects them. */
const entryColumns = {
  time: statusHistory.time,
  from_status: statusHistory.fromStatus,
  to_status: statusHistory.toStatus,
  username: statusHistory.username,
  role: statusHistory.role,
  reason_code: statusHistory.reasonCode,
  reason: statusHistory.reason,
}

export function historyQueries(db: Db) {
  /** Newest first: the resource's row, left-joined with its entries along the (kind, subject) index. */
  const read = (subject: Subject) =>
    prepared(db, () =>
      db
        .select({
          subject: sql<number>`${subject.rowid}`.as('subject'),
          ...entryColumns,
        })
        .from(subject.table)
        .leftJoin(statusHistory, and(eq(statusHistory.kind, subject.code), eq(statusHistory.subject, subject.rowid)))
        .where(subject.where)
        .orderBy(desc(statusHistory.entry))
        .limit(p('limit')),
    )
  return {
    insert: prepared(db, () =>
      db.insert(statusHistory).values({
        kind: p('kind'),
        subject: p('subject'),
        time: p('time'),
        fromStatus: p('from'),
        toStatus: p('to'),
        username: p('username'),
        role: p('role'),
        reasonCode: p('reason_code'),
        reason: p('reason'),
      }),
    ),
    /**
     * The newest entry of a subject (its kind's code and rowid) that is not
     * the server moving it between two of the statuses (codes) in the JSON
     * list `among`: walked newest first along the (kind, subject) index.
     */
    lastOutside: prepared(db, () =>
      db
        .select({ from_status: statusHistory.fromStatus, to_status: statusHistory.toStatus, username: statusHistory.username, role: statusHistory.role })
        .from(statusHistory)
        .where(
          and(
            eq(statusHistory.kind, p('kind')),
            eq(statusHistory.subject, p('subject')),
            sql`NOT (${statusHistory.username} IS NULL
              AND ${statusHistory.fromStatus} IN (SELECT value FROM json_each(${p('among')}))
              AND ${statusHistory.toStatus} IN (SELECT value FROM json_each(${p('among')})))`,
          ),
        )
        .orderBy(desc(statusHistory.entry))
        .limit(1),
    ),
    /** Entries written after `after`, in the order they were written, with the ids of where each happened (the live events). */
    since: prepared(db, () =>
      db
        .select({
          entry: statusHistory.entry,
          kind: statusHistory.kind,
          ...entryColumns,
          dataset_id: sql<string | null>`coalesce(${datasets.datasetId}, ${jobs.datasetId}, ${tasks.datasetId})`.as('dataset_id'),
          job_id: sql<string | null>`coalesce(${jobs.jobId}, ${tasks.jobId})`.as('job_id'),
          task_id: tasks.taskId,
        })
        .from(statusHistory)
        // Each subject is found by its rowid in the table its kind names.
        .leftJoin(datasets, and(eq(statusHistory.kind, KIND_CODES.dataset), eq(SUBJECTS.dataset.rowid, statusHistory.subject)))
        .leftJoin(jobs, and(eq(statusHistory.kind, KIND_CODES.job), eq(SUBJECTS.job.rowid, statusHistory.subject)))
        .leftJoin(tasks, and(eq(statusHistory.kind, KIND_CODES.task), eq(SUBJECTS.task.rowid, statusHistory.subject)))
        .where(sql`${statusHistory.entry} > ${p('after')}`)
        .orderBy(statusHistory.entry)
        .limit(p('limit')),
    ),
    // The newest entry, read from the end of the rowid b-tree (entries count from 1).
    lastEntry: prepared(db, () =>
      db
        .select({ entry: statusHistory.entry })
        .from(statusHistory)
        .where(sql`${statusHistory.entry} > 0`)
        .orderBy(desc(statusHistory.entry))
        .limit(1),
    ),
    dataset: read(SUBJECTS.dataset),
    job: read(SUBJECTS.job),
    task: read(SUBJECTS.task),
  }
}

/** A name held by `value` as its position in `names` (`otherwise` for a name not there). */
function codeOf(names: readonly string[], value: SQL | SQLiteColumn, otherwise: SQL): SQL {
  return sql`CASE ${value} ${sql.raw(names.map((name, i) => `WHEN '${name.replaceAll("'", "''")}' THEN ${i}`).join(' '))} ELSE ${otherwise} END`
}

/** A select of rows to write as history entries: each changed resource's `subject` (rowid), `from_status` and `to_status` by name, and the server's `reason` by name (or null). */
export interface EntryRows {
  as(alias: string): unknown
}

/**
 * One entry of `kind` for each of `rows`, in one INSERT ... SELECT (the
 * set-based writes of the bulk actions), by the server or by a client
 * (whose reason is not kept). Placeholders: `history_time`, and for a
 * client `history_username` and `history_role`.
 */
export function entriesFrom(db: Db, kind: keyof typeof KIND_CODES, statuses: readonly string[], by: 'server' | 'client', rows: () => EntryRows) {
  return prepared(db, () => {
    const r = rows().as('entry_rows') as unknown as Record<'subject' | 'from_status' | 'to_status' | 'reason', SQL> & Subquery
    const server = by === 'server'
    return db.insert(statusHistory).select(
      db
        .select({
          entry: sql`NULL`.as('entry'),
          kind: sql`${KIND_CODES[kind]}`.as('kind'),
          subject: sql`${r.subject}`.as('subject'),
          time: sql`${p('history_time')}`.as('time'),
          fromStatus: codeOf(statuses, r.from_status, sql`-1`).as('from_status'),
          toStatus: codeOf(statuses, r.to_status, sql`-1`).as('to_status'),
          username: (server ? sql`NULL` : sql`${p('history_username')}`).as('username'),
          role: (server ? sql`NULL` : sql`${p('history_role')}`).as('role'),
          reasonCode: (server ? codeOf(SERVER_REASONS, r.reason, sql`NULL`) : sql`NULL`).as('reason_code'),
          reason: sql`NULL`.as('reason'),
        })
        .from(r),
    )
  })
}
