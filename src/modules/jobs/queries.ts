/** The jobs module's queries (see db/query.ts). */
import { and, eq, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db'
import { statusQueries } from '../../db/dataset-statuses'
import { prepared } from '../../db/query'
import { datasets, jobCounts, jobs } from '../../db/schema'

const p = sql.placeholder
const rowid = sql<number>`${jobs}.rowid`

export function jobQueries(db: Db) {
  /** A page of the dataset's jobs after rowid `after`, in creation order. */
  const page = (...conditions: SQL[]) =>
    db
      .select({ rowid, id: sql<string>`${jobs.jobId}`.as('id'), doc: jobs.doc })
      .from(jobs)
      .where(and(eq(jobs.datasetId, p('dataset_id')), ...conditions, sql`${rowid} > ${p('after')}`))
      .orderBy(rowid)
      .limit(p('limit'))
  const state = () =>
    db
      .select({ rowid, dataset_id: sql<string>`${jobs.datasetId}`.as('dataset_id'), status: sql<string>`${jobs.status}`.as('status'), doc: jobs.doc })
      .from(jobs)
  return {
    datasetExists: prepared(db, () => db.select({ dataset_id: datasets.datasetId }).from(datasets).where(eq(datasets.datasetId, p('dataset_id')))),
    jobIndexTaken: prepared(db, () =>
      db
        .select({ job_id: jobs.jobId })
        .from(jobs)
        .where(and(eq(jobs.datasetId, p('dataset_id')), eq(jobs.jobIndex, p('job_index')))),
    ),
    insert: prepared(db, () => db.insert(jobs).values({ jobId: p('job_id'), doc: p('doc') })),
    doc: prepared(db, () => db.select({ doc: jobs.doc }).from(jobs).where(eq(jobs.jobId, p('job_id')))),
    docInDataset: prepared(db, () =>
      db
        .select({ doc: jobs.doc })
        .from(jobs)
        .where(and(eq(jobs.jobId, p('job_id')), eq(jobs.datasetId, p('dataset_id')))),
    ),
    saveDoc: prepared(db, () => db.update(jobs).set({ doc: sql`${p('doc')}` }).where(eq(jobs.jobId, p('job_id')))),
    // What a status change reports: the job's rowid (its history's key), dataset and the status it leaves.
    state: prepared(db, () => state().where(eq(jobs.jobId, p('job_id')))),
    stateInDataset: prepared(db, () => state().where(and(eq(jobs.jobId, p('job_id')), eq(jobs.datasetId, p('dataset_id'))))),
    // One json_set, so the counting triggers see exactly one old and one new status.
    setStatusInDataset: prepared(db, () =>
      db
        .update(jobs)
        .set({ doc: sql`json_set(${jobs.doc}, '$.status', ${p('status')}, '$.status_changed', ${p('now')})` })
        .where(and(eq(jobs.jobId, p('job_id')), eq(jobs.datasetId, p('dataset_id'))))
        .returning({ job_id: jobs.jobId }),
    ),
    ...statusQueries(
      db,
      { table: jobs, id: jobs.jobId, datasetId: jobs.datasetId, status: jobs.status },
      { table: jobCounts, datasetId: jobCounts.datasetId, status: jobCounts.status, n: jobCounts.n },
    ),
    pageByStatus: prepared(db, () => page(eq(jobs.status, p('status')))),
    pageByStatusAndIndex: prepared(db, () => page(eq(jobs.status, p('status')), eq(jobs.jobIndex, p('job_index')))),
    pageByIndex: prepared(db, () => page(eq(jobs.jobIndex, p('job_index')))),
  }
}
