/**
 * The scheduler's queries (see db/query.ts), by the part that runs them:
 * claims, transitions, roll-up, retries, materialization, the sweep. Each
 * status change is one `json_set` on the document, so the counting, queue
 * and pilot-list triggers follow it in the same statement; a change returns
 * the resource's ref (refs.ts) for the history.
 *
 * A unary + on a bound parameter (`= +$x`) is for speed: an equality between
 * an index column and a bare parameter, or a lookup by a bare parameter in a
 * join, costs SQLite 5–10 µs more than one with an expression (measured on
 * bun:sqlite: 13–16 µs against 3–5 for the roll-up's job lookup; the plan is
 * the same). A + on a column (`+status = 'waiting'`) keeps SQLite off that
 * column's index, which would walk every task of the status.
 */
import { and, asc, eq, exists, gt, inArray, isNull, lte, notExists, or, sql, type SQL } from 'drizzle-orm'
import { alias, type SQLiteColumn } from 'drizzle-orm/sqlite-core'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import {
  configs,
  datasets,
  jobCounts,
  jobs,
  jobTaskCounts,
  materialization,
  pilots,
  pilotTasks,
  processingSince,
  taskCounts,
  taskDepends,
  taskQueue,
  tasks,
} from '../../db/schema'
import { NUMERIC_KEYS } from '../queue/requirements'

const p = sql.placeholder
/** `column = +placeholder` (see above). */
const keyIs = (column: SQLiteColumn, name: string) => sql`${column} = +${p(name)}`
const now = p('now')

const dependency = alias(tasks, 'dependency')
const processingCounts = alias(taskCounts, 'processing_counts')

/** What a task statement returns as the task's ref. */
const taskRef = {
  rowid: sql<number>`${tasks}.rowid`,
  task_id: tasks.taskId,
  dataset_id: sql<string>`${tasks.datasetId}`.as('dataset_id'),
  job_id: sql<string>`${tasks.jobId}`.as('job_id'),
}
const byTaskId = eq(tasks.taskId, p('task_id'))

/** A task is ready when every task it depends on exists and is complete. */
function ready(db: Db): SQL {
  return notExists(
    db
      .select({ one: sql`1` })
      .from(taskDepends)
      .where(
        and(
          eq(taskDepends.taskId, tasks.taskId),
          notExists(db.select({ one: sql`1` }).from(dependency).where(and(eq(dependency.taskId, taskDepends.dependsOn), sql`${dependency.status} = 'complete'`))),
        ),
      ),
  )
}

export function schedulerQueries(db: Db) {
  /** The tasks that depend on the task `task_id`, through task_depends. */
  const dependentsOf = () => inArray(tasks.taskId, db.select({ task_id: taskDepends.taskId }).from(taskDepends).where(keyIs(taskDepends.dependsOn, 'task_id')))
  const setStatus = (status: SQL | ReturnType<typeof p>, extra: SQL = sql``) => ({ doc: sql`json_set(${tasks.doc}, '$.status', ${status}, '$.status_changed', ${now}${extra})` })
  return {
    // ---- claims (claims.ts) ----
    // The datasets with queued tasks that may be handed out, with how many tasks each has processing now.
    claimable: prepared(db, () =>
      db
        .select({
          dataset: sql<number>`${datasets}.rowid`.as('dataset'),
          priority: sql<number>`${datasets.priority}`.as('priority'),
          processing: sql<number>`coalesce(${db
            .select({ n: processingCounts.n })
            .from(processingCounts)
            .where(and(eq(processingCounts.datasetId, taskCounts.datasetId), eq(processingCounts.status, 'processing')))}, 0)`.as('processing'),
        })
        .from(taskCounts)
        .innerJoin(datasets, eq(datasets.datasetId, taskCounts.datasetId))
        .where(and(eq(taskCounts.status, 'queued'), gt(taskCounts.n, 0), inArray(datasets.status, ['processing', 'truncated']))),
    ),
    // One dataset's queued tasks of processing jobs after `after`, in creation
    // order, numeric requirements tested on the index (as the claim service's candidates).
    candidates: prepared(db, () =>
      db
        .select({
          seq: taskQueue.seq,
          task_id: taskQueue.taskId,
          other_requirements: sql<string | null>`CASE WHEN ${taskQueue.hasOther} THEN ${taskQueue.requirements} END`.as('other_requirements'),
        })
        .from(taskQueue)
        .where(
          and(
            keyIs(taskQueue.dataset, 'dataset'),
            sql`${taskQueue.jobActive} = 1`,
            gt(taskQueue.seq, p('after')),
            ...NUMERIC_KEYS.map((key) => or(isNull(taskQueue[key]), lte(taskQueue[key], p(key)))),
          ),
        )
        .orderBy(asc(taskQueue.seq)),
    ),
    markProcessing: prepared(db, () =>
      db
        .update(tasks)
        .set(setStatus(sql`'processing'`, sql`, '$.instance_id', ${p('instance_id')}`))
        .where(and(byTaskId, sql`${tasks.status} = 'queued'`))
        .returning({ ...taskRef, doc: tasks.doc }),
    ),
    dropQueueRow: prepared(db, () => db.delete(taskQueue).where(eq(taskQueue.taskId, p('task_id')))),
    pilotExists: prepared(db, () => db.select({ one: sql<number>`1`.as('one') }).from(pilots).where(eq(pilots.pilotId, p('pilot_id')))),
    /** Whether any pilot lists the task: most claimed tasks are on no list, which one index lookup tells. */
    listed: prepared(db, () => db.select({ listed: sql<number>`1`.as('listed') }).from(pilotTasks).where(eq(pilotTasks.taskId, p('task_id'))).limit(1)),
    /** The task leaves every pilot's list: a pilot deleted later must not take it back from its new one. */
    delist: prepared(db, () =>
      db
        .update(pilots)
        .set({
          doc: sql`json_set(${pilots.doc}, '$.tasks', json((SELECT json_group_array(value) FROM json_each(${pilots.doc}, '$.tasks') WHERE value IS NOT ${p('task_id')})))`,
        })
        .where(inArray(pilots.pilotId, db.select({ pilot_id: pilotTasks.pilotId }).from(pilotTasks).where(eq(pilotTasks.taskId, p('task_id'))))),
    ),
    // A claim is the pilot at work: its last_update is refreshed as a PUT of its tasks would.
    addToPilot: prepared(db, () =>
      db
        .update(pilots)
        .set({
          doc: sql`json_set(${pilots.doc},
            '$.tasks', json_insert(CASE WHEN json_type(${pilots.doc}, '$.tasks') = 'array' THEN json_extract(${pilots.doc}, '$.tasks') ELSE '[]' END, '$[#]', ${p('task_id')}),
            '$.last_update', ${now})`,
        })
        .where(eq(pilots.pilotId, p('pilot_id'))),
    ),

    // ---- transitions (transitions.ts) ----
    /** A row for each task of `depends` (a JSON list) that does not exist or is not complete: a new task is ready when there is none. */
    notComplete: prepared(db, () =>
      db
        .select({ task_id: sql<string>`j.value`.as('task_id') })
        .from(sql`json_each(${p('depends')}) j`)
        .where(notExists(db.select({ one: sql`1` }).from(tasks).where(and(sql`${tasks.taskId} = j.value`, sql`${tasks.status} = 'complete'`))))
        .limit(1),
    ),
    queueIfReady: prepared(db, () =>
      db
        .update(tasks)
        .set(setStatus(sql`'queued'`))
        .where(and(byTaskId, sql`${tasks.status} = 'waiting'`, ready(db)))
        .returning(taskRef),
    ),
    hasDepends: prepared(db, () => db.select({ one: sql<number>`1`.as('one') }).from(taskDepends).where(eq(taskDepends.taskId, p('task_id'))).limit(1)),
    /** The waiting tasks that depend on a task just completed, and nothing else now. */
    queueReadyDependents: prepared(db, () =>
      db
        .update(tasks)
        .set(setStatus(sql`'queued'`))
        .where(and(dependentsOf(), sql`+${tasks.status} = 'waiting'`, ready(db)))
        .returning(taskRef),
    ),
    /** The queued tasks that depend on a task that runs again. */
    unqueueDependents: prepared(db, () =>
      db
        .update(tasks)
        .set(setStatus(sql`'waiting'`))
        .where(and(dependentsOf(), sql`+${tasks.status} = 'queued'`))
        .returning(taskRef),
    ),
    /** The jobs of the tasks that wait, directly or not, for a task (other than its own job). */
    jobsDownstream: prepared(db, () =>
      db
        .select({ job_id: sql<string>`${tasks.jobId}`.as('job_id') })
        .from(tasks)
        .where(
          and(
            sql`${tasks.taskId} IN (
              WITH RECURSIVE downstream(task_id) AS (
                SELECT task_id FROM ${taskDepends} WHERE depends_on = ${p('task_id')}
                UNION SELECT d.task_id FROM ${taskDepends} d JOIN downstream ON d.depends_on = downstream.task_id)
              SELECT task_id FROM downstream)`,
            sql`${tasks.jobId} IS NOT ${p('job_id')}`,
            sql`${tasks.jobId} IS NOT NULL`,
          ),
        ),
    ),
    claimOf: prepared(db, () =>
      db
        .select({ status: sql<string>`${tasks.status}`.as('status'), instance_id: sql<unknown>`json_extract(${tasks.doc}, '$.instance_id')`.as('instance_id') })
        .from(tasks)
        .where(byTaskId),
    ),

    // ---- roll-up (rollup.ts) ----
    jobState: prepared(db, () =>
      db
        .select({
          rowid: sql<number>`${jobs}.rowid`,
          job_id: jobs.jobId,
          dataset_id: sql<string>`${jobs.datasetId}`.as('dataset_id'),
          job_index: sql<number>`${jobs.jobIndex}`.as('job_index'),
          status: sql<string>`${jobs.status}`.as('status'),
          idle: jobTaskCounts.idle,
          waiting: jobTaskCounts.waiting,
          queued: jobTaskCounts.queued,
          processing: jobTaskCounts.processing,
          reset: jobTaskCounts.reset,
          suspended: jobTaskCounts.suspended,
          failed: jobTaskCounts.failed,
          complete: jobTaskCounts.complete,
        })
        .from(jobs)
        .leftJoin(jobTaskCounts, eq(jobTaskCounts.jobId, jobs.jobId))
        .where(keyIs(jobs.jobId, 'job_id')),
    ),
    setJobStatus: prepared(db, () =>
      db
        .update(jobs)
        .set({ doc: sql`json_set(${jobs.doc}, '$.status', ${p('status')}, '$.status_changed', ${now})` })
        .where(eq(jobs.jobId, p('job_id'))),
    ),
    waitingOfJob: prepared(db, () =>
      db
        .select({ task_id: tasks.taskId })
        .from(tasks)
        .where(and(eq(tasks.datasetId, p('dataset_id')), eq(tasks.jobIndex, p('job_index')), eq(tasks.jobId, p('job_id')), sql`+${tasks.status} = 'waiting'`)),
    ),
    /** The statuses of what a task depends on (null for a task that does not exist). */
    dependencies: prepared(db, () =>
      db
        .select({ status: dependency.status })
        .from(taskDepends)
        .leftJoin(dependency, eq(dependency.taskId, taskDepends.dependsOn))
        .where(eq(taskDepends.taskId, p('task_id'))),
    ),
    waitingDependencies: prepared(db, () =>
      db
        .select({ task_id: sql<string>`${taskDepends.dependsOn}`.as('task_id') })
        .from(taskDepends)
        .innerJoin(dependency, eq(dependency.taskId, taskDepends.dependsOn))
        .where(and(eq(taskDepends.taskId, p('task_id')), sql`${dependency.status} = 'waiting'`)),
    ),
    datasetState: prepared(db, () =>
      db
        .select({
          rowid: sql<number>`${datasets}.rowid`,
          dataset_id: datasets.datasetId,
          status: sql<string>`${datasets.status}`.as('status'),
          jobs_submitted: sql<unknown>`json_extract(${datasets.doc}, '$.jobs_submitted')`.as('jobs_submitted'),
        })
        .from(datasets)
        .where(eq(datasets.datasetId, p('dataset_id'))),
    ),
    jobCounts: prepared(db, () =>
      db
        .select({ status: jobCounts.status, n: jobCounts.n })
        .from(jobCounts)
        .where(and(eq(jobCounts.datasetId, p('dataset_id')), gt(jobCounts.n, 0))),
    ),
    setDatasetStatus: prepared(db, () =>
      db
        .update(datasets)
        .set({ doc: sql`json_set(${datasets.doc}, '$.status', ${p('status')})` })
        .where(eq(datasets.datasetId, p('dataset_id'))),
    ),

    // ---- retries (retries.ts) ----
    retryState: prepared(db, () =>
      db
        .select({
          status: sql<string>`${tasks.status}`.as('status'),
          failures: sql<number>`coalesce(json_extract(${tasks.doc}, '$.failures'), 0)`.as('failures'),
          requirements: sql<string | null>`CASE WHEN json_type(${tasks.doc}, '$.requirements') = 'object' THEN json_extract(${tasks.doc}, '$.requirements') END`.as('requirements'),
          max_failures: sql<unknown>`json_extract(${datasets.doc}, '$.max_failures')`.as('max_failures'),
          debug: sql<unknown>`json_extract(${datasets.doc}, '$.debug')`.as('debug'),
          ready: sql<number>`${ready(db)}`.as('ready'),
          has_depends: sql<number>`${exists(db.select({ one: sql`1` }).from(taskDepends).where(eq(taskDepends.taskId, tasks.taskId)))}`.as('has_depends'),
        })
        .from(tasks)
        .leftJoin(datasets, eq(datasets.datasetId, tasks.datasetId))
        .where(keyIs(tasks.taskId, 'task_id')),
    ),
    move: prepared(db, () => db.update(tasks).set(setStatus(p('status'))).where(byTaskId)),
    /** With the reset action's report: its reason (null without one)… */
    moveReported: prepared(db, () => db.update(tasks).set(setStatus(p('status'), sql`, '$.failure_reason', ${p('reason')}`)).where(byTaskId)),
    /** …and the requirements its use raised. */
    moveRaised: prepared(db, () =>
      db
        .update(tasks)
        .set(setStatus(p('status'), sql`, '$.failure_reason', ${p('reason')}, '$.requirements', json(${p('requirements')})`))
        .where(byTaskId),
    ),
    /** A processing task taken back from its pilot (§6.4): one more eviction, no failure counted. */
    evict: prepared(db, () =>
      db
        .update(tasks)
        .set(setStatus(p('status'), sql`, '$.evictions', coalesce(json_extract(${tasks.doc}, '$.evictions'), 0) + 1`))
        .where(and(byTaskId, sql`${tasks.status} = 'processing'`))
        .returning(taskRef),
    ),

    // ---- materialization (materializer.ts) ----
    materialization: prepared(db, () =>
      db
        .select({
          status: sql<string | null>`${datasets.status}`.as('status'),
          jobs_submitted: sql<unknown>`json_extract(${datasets.doc}, '$.jobs_submitted')`.as('jobs_submitted'),
          config: sql<string | null>`${configs.doc}`.as('config'),
          next_index: materialization.nextIndex,
        })
        .from(datasets)
        .leftJoin(configs, eq(configs.datasetId, datasets.datasetId))
        .leftJoin(materialization, eq(materialization.datasetId, datasets.datasetId))
        .where(keyIs(datasets.datasetId, 'dataset_id')),
    ),
    indexTaken: prepared(db, () =>
      db
        .select({ taken: sql<number>`1`.as('taken') })
        .from(jobs)
        .where(and(eq(jobs.datasetId, p('dataset_id')), eq(jobs.jobIndex, p('job_index')))),
    ),
    insertJob: prepared(db, () => db.insert(jobs).values({ jobId: p('job_id'), doc: p('doc') })),
    insertTask: prepared(db, () => db.insert(tasks).values({ taskId: p('task_id'), doc: p('doc') })),
    saveCursor: prepared(db, () =>
      db
        .insert(materialization)
        .values({ datasetId: p('dataset_id'), nextIndex: p('next_index') })
        .onConflictDoUpdate({ target: materialization.datasetId, set: { nextIndex: sql`excluded.next_index` } }),
    ),
    taskExists: prepared(db, () => db.select({ one: sql<number>`1`.as('one') }).from(tasks).where(byTaskId)),
    /** The processing datasets with a config: what a restart interrupted goes on. */
    resumable: prepared(db, () =>
      db
        .select({ dataset_id: datasets.datasetId })
        .from(datasets)
        .innerJoin(configs, eq(configs.datasetId, datasets.datasetId))
        .where(eq(datasets.status, 'processing')),
    ),

    // ---- the sweep (sweep.ts) ----
    stalePilots: prepared(db, () =>
      db
        .select({ pilot_id: pilots.pilotId })
        .from(pilots)
        .where(sql`${pilots.lastUpdate} < ${p('cutoff')}`)
        .orderBy(asc(pilots.lastUpdate))
        .limit(p('limit')),
    ),
    tasksOfPilot: prepared(db, () => db.select({ task_id: pilotTasks.taskId }).from(pilotTasks).where(eq(pilotTasks.pilotId, p('pilot_id')))),
    deletePilot: prepared(db, () => db.delete(pilots).where(eq(pilots.pilotId, p('pilot_id')))),
    /** Processing tasks that started before `cutoff`, in key order after the last entry looked at, and whether a pilot lists each. */
    oldProcessing: prepared(db, () =>
      db
        .select({
          since: processingSince.since,
          task_id: processingSince.taskId,
          listed: sql<number>`${exists(db.select({ one: sql`1` }).from(pilotTasks).where(eq(pilotTasks.taskId, processingSince.taskId)))}`.as('listed'),
        })
        .from(processingSince)
        .where(and(sql`${processingSince.since} < ${p('cutoff')}`, sql`(${processingSince.since}, ${processingSince.taskId}) > (${p('since')}, ${p('task_id')})`))
        .orderBy(asc(processingSince.since), asc(processingSince.taskId))
        .limit(p('limit')),
    ),
  }
}

export type SchedulerQueries = ReturnType<typeof schedulerQueries>
