/**
 * The tasks module's queries (see db/query.ts). Listings page by rowid, and
 * every filter a listing can apply has an index whose entries are in rowid
 * order, so a page never sorts.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db'
import { statusQueries } from '../../db/dataset-statuses'
import { prepared, preparedPer } from '../../db/query'
import { jobs, taskCounts, tasks } from '../../db/schema'

const p = sql.placeholder
const rowid = sql<number>`${tasks}.rowid`

/** A numeric field of the task document, 0 when missing or not a number. */
const numberIn = (path: string): SQL<number> =>
  sql<number>`iif(json_type(${tasks.doc}, ${path}) IN ('integer', 'real'), json_extract(${tasks.doc}, ${path}), 0)`

const walltime = numberIn('$.walltime')

// A status change is one json_set, so the counting triggers see exactly one old and one new status.
const statusSet = { doc: sql`json_set(${tasks.doc}, '$.status', ${p('status')}, '$.status_changed', ${p('now')})` }

/** The filters a task listing can apply, by their placeholder names. */
export const PAGE_FILTERS = ['dataset_id', 'status', 'job_id', 'job_index', 'grid_id', 'name'] as const
export type PageFilter = (typeof PAGE_FILTERS)[number]

/** The key of the page query for a set of filters: their names joined by `+` in PAGE_FILTERS order ('' for none). */
export const pageKey = (filters: Iterable<PageFilter>): string => {
  const present = new Set(filters)
  return PAGE_FILTERS.filter((name) => present.has(name)).join('+')
}

export function taskQueries(db: Db) {
  const state = () =>
    db
      .select({
        rowid,
        dataset_id: sql<string>`${tasks.datasetId}`.as('dataset_id'),
        job_id: sql<string>`${tasks.jobId}`.as('job_id'),
        status: sql<string>`${tasks.status}`.as('status'),
        doc: tasks.doc,
      })
      .from(tasks)
  return {
    jobIndex: prepared(db, () =>
      db
        .select({ job_index: jobs.jobIndex, job_status: sql<string | null>`${jobs.status}`.as('job_status') })
        .from(jobs)
        .where(and(eq(jobs.jobId, p('job_id')), eq(jobs.datasetId, p('dataset_id')))),
    ),
    insert: prepared(db, () => db.insert(tasks).values({ taskId: p('task_id'), doc: p('doc') })),
    // GET /tasks/<id>, the hottest route.
    doc: prepared(db, () => db.select({ doc: tasks.doc }).from(tasks).where(eq(tasks.taskId, p('task_id')))),
    docInDataset: prepared(db, () =>
      db
        .select({ doc: tasks.doc })
        .from(tasks)
        .where(and(eq(tasks.taskId, p('task_id')), eq(tasks.datasetId, p('dataset_id')))),
    ),
    /** Where a listing resumes after a task of the dataset (`after`). */
    rowidInDataset: prepared(db, () =>
      db
        .select({ rowid })
        .from(tasks)
        .where(and(eq(tasks.taskId, p('task_id')), eq(tasks.datasetId, p('dataset_id')))),
    ),
    saveDoc: prepared(db, () => db.update(tasks).set({ doc: sql`${p('doc')}` }).where(eq(tasks.taskId, p('task_id')))),
    setStatus: prepared(db, () => db.update(tasks).set(statusSet).where(eq(tasks.taskId, p('task_id')))),
    // What a status change reports: the task's rowid (its history's key), dataset, job and the status it leaves.
    state: prepared(db, () => state().where(eq(tasks.taskId, p('task_id')))),
    stateInDataset: prepared(db, () => state().where(and(eq(tasks.taskId, p('task_id')), eq(tasks.datasetId, p('dataset_id'))))),
    ...statusQueries(
      db,
      { table: tasks, id: tasks.taskId, datasetId: tasks.datasetId, status: tasks.status },
      { table: taskCounts, datasetId: taskCounts.datasetId, status: taskCounts.status, n: taskCounts.n },
    ),
    nameStatusCounts: prepared(db, () =>
      db
        .select({
          name: tasks.name,
          status: tasks.status,
          n: sql<number>`count(*)`.as('n'),
          first_index: sql<number>`min(${tasks.taskIndex})`.as('first_index'),
        })
        .from(tasks)
        .where(eq(tasks.datasetId, p('dataset_id')))
        .groupBy(tasks.name, tasks.status),
    ),
    walltimeStats: prepared(db, () =>
      db
        .select({
          name: tasks.name,
          count: sql<number>`count(*)`.as('count'),
          gpu: sql<number>`total(${numberIn('$.requirements.gpu')})`.as('gpu'),
          total: sql<number>`total(${walltime})`.as('total'),
          total_err: sql<number>`total(${numberIn('$.walltime_err')})`.as('total_err'),
          sum_squares: sql<number>`total(${walltime} * ${walltime})`.as('sum_squares'),
          min: sql<number>`min(${walltime})`.as('min'),
          max: sql<number>`max(${walltime})`.as('max'),
          first_index: sql<number>`min(${tasks.taskIndex})`.as('first_index'),
        })
        .from(tasks)
        .where(and(eq(tasks.datasetId, p('dataset_id')), eq(tasks.status, 'complete')))
        .groupBy(tasks.name),
    ),
    /** A page of the tasks matching the filters named by the key (see pageKey), after rowid `after`. */
    page: preparedPer(db, (key: string) => {
      const filters = new Set(key.split('+'))
      const conditions: SQL[] = [sql`${rowid} > ${p('after')}`]
      if (filters.has('dataset_id')) conditions.push(eq(tasks.datasetId, p('dataset_id')))
      if (filters.has('status')) conditions.push(eq(tasks.status, p('status')))
      if (filters.has('job_id')) {
        // Through the job's (dataset_id, job_index), both fixed when the task is created, to use that index.
        conditions.push(
          sql`${tasks.datasetId} = (SELECT ${jobs.datasetId} FROM ${jobs} WHERE ${jobs.jobId} = ${p('job_id')})`,
          sql`${tasks.jobIndex} = (SELECT ${jobs.jobIndex} FROM ${jobs} WHERE ${jobs.jobId} = ${p('job_id')})`,
          eq(tasks.jobId, p('job_id')),
        )
      }
      if (filters.has('job_index')) conditions.push(eq(tasks.jobIndex, p('job_index')))
      if (filters.has('grid_id')) conditions.push(eq(tasks.gridId, p('grid_id')))
      // No index of its own: a dataset has a few task names, each on a share of its tasks, so a
      // page of one name is found after a few times the page's rows of the dataset's index.
      if (filters.has('name')) conditions.push(eq(tasks.name, p('name')))
      return db
        .select({ rowid, id: sql<string>`${tasks.taskId}`.as('id'), doc: tasks.doc })
        .from(tasks)
        .where(and(...conditions))
        .orderBy(rowid)
        .limit(p('limit'))
    }),
  }
}
