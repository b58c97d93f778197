/**
 * The scheduler's queries (see db/query.ts), by the part that runs them:
 * claims, transitions, roll-up, retries, materialization, the sweep, and
 * (bulkQueries) the bulk actions. Each status change is one `json_set` on
 * the document, so the counting, queue and pilot-list triggers follow it in
 * the same statement; a change returns the resource's ref (refs.ts) for the
 * history.
 *
 * A unary + on a bound parameter (`= +$x`) is for speed: an equality between
 * an index column and a bare parameter, or a lookup by a bare parameter in a
 * join, costs SQLite 5–10 µs more than one with an expression (measured on
 * bun:sqlite: 13–16 µs against 3–5 for the roll-up's job lookup; the plan is
 * the same). A + on a column (`+status = 'waiting'`) keeps SQLite off that
 * column's index, which would walk every task of the status.
 */
import { and, asc, eq, exists, gt, inArray, isNotNull, isNull, lte, not, notExists, or, sql, type SQL } from 'drizzle-orm'
import { alias, type SQLiteColumn } from 'drizzle-orm/sqlite-core'
import type { Db } from '../../db'
import { prepared, preparedPer } from '../../db/query'
import {
  bulkUpdate,
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
import { JOB_STATUSES, TASK_STATUSES } from '../../status'
import { entriesFrom } from '../history/queries'
import { NUMERIC_KEYS } from '../queue/requirements'
import { BLOCKING, STEADILY_ACTIVE } from './refs'
import { byTaskId, dependency, dropQueueRow, now, p, ready, taskRef } from './task-sql'
import { bulkFollows, bulkIds, bulkRequirements, bulkRequirementsTasks, bulkTasks, rollupChanges, rollupJobs } from '../../db/scratch'

/** `column = +placeholder` (see above). */
const keyIs = (column: SQLiteColumn, name: string) => sql`${column} = +${p(name)}`

const processingCounts = alias(taskCounts, 'processing_counts')

/** A job as the roll-up reads it: its key fields and its task counts by status. */
const jobStateColumns = {
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
}

export function schedulerQueries(db: Db) {
  /** The tasks that depend on the task `task_id`, through task_depends. */
  const dependentsOf = () => inArray(tasks.taskId, db.select({ task_id: taskDepends.taskId }).from(taskDepends).where(keyIs(taskDepends.dependsOn, 'task_id')))
  const setStatus = (status: SQL | ReturnType<typeof p>, extra: SQL = sql``) => ({ doc: sql`json_set(${tasks.doc}, '$.status', ${status}, '$.status_changed', ${now}${extra})` })
  return {
    // ---- claims (claims.ts) ----
    // The datasets with queued tasks that may be handed out, with how many tasks each has processing now.
    // Read once per shared transaction of claims. Its statuses are written into the SQL: bound as
    // `task_counts.status = ?`, every run costs as much as preparing the statement again (12 µs against 1.5).
    claimable: prepared(db, () =>
      db
        .select({
          dataset: sql<number>`${datasets}.rowid`.as('dataset'),
          priority: sql<number>`${datasets.priority}`.as('priority'),
          processing: sql<number>`coalesce(${db
            .select({ n: processingCounts.n })
            .from(processingCounts)
            .where(and(eq(processingCounts.datasetId, taskCounts.datasetId), sql`${processingCounts.status} = 'processing'`))}, 0)`.as('processing'),
        })
        .from(taskCounts)
        .innerJoin(datasets, eq(datasets.datasetId, taskCounts.datasetId))
        .where(and(sql`${taskCounts.status} = 'queued'`, gt(taskCounts.n, 0), inArray(datasets.status, ['processing', 'truncated']))),
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
        // Whether a pilot lists the task already: most claimed tasks are on no list, which one index lookup tells.
        .returning({ ...taskRef, doc: tasks.doc, listed: sql<number>`${exists(db.select({ one: sql`1` }).from(pilotTasks).where(eq(pilotTasks.taskId, p('task_id'))))}`.as('listed') }),
    ),
    dropQueueRow: dropQueueRow(db),
    pilotExists: prepared(db, () => db.select({ one: sql<number>`1`.as('one') }).from(pilots).where(eq(pilots.pilotId, p('pilot_id')))),
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
        .where(and(byTaskId, sql`${tasks.status} = 'waiting'`, ready(db, tasks.taskId)))
        .returning(taskRef),
    ),
    /** A queued task that waits for a task not complete (its depends changed): back to waiting, out of the queue. */
    unqueueIfNotReady: prepared(db, () =>
      db
        .update(tasks)
        .set(setStatus(sql`'waiting'`))
        .where(and(byTaskId, sql`${tasks.status} = 'queued'`, not(ready(db, tasks.taskId))))
        .returning(taskRef),
    ),
    hasDepends: prepared(db, () => db.select({ one: sql<number>`1`.as('one') }).from(taskDepends).where(eq(taskDepends.taskId, p('task_id'))).limit(1)),
    /** The waiting tasks that depend on a task just completed, and nothing else now. */
    queueReadyDependents: prepared(db, () =>
      db
        .update(tasks)
        .set(setStatus(sql`'queued'`))
        .where(and(dependentsOf(), sql`+${tasks.status} = 'waiting'`, ready(db, tasks.taskId)))
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
        .select(jobStateColumns)
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
          ready: sql<number>`${ready(db, tasks.taskId)}`.as('ready'),
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

// ---- the bulk actions (bulk.ts) ----

/**
 * The bulk actions' queries, set-based
 * over the scratch tables of db/scratch.ts. Each statement on the tasks finds
 * its rows by key from the scratch tables (rowid IN, or a CROSS JOIN that
 * keeps that order): planned without statistics, an UPDATE ... FROM walked
 * every task, and a join on the status index every queued one. A + on a
 * column (`+status = 'queued'`) keeps SQLite off that column's index.
 */
/** A list of known words (statuses) as SQL literals. */
const literals = (values: readonly string[]) => sql.raw(values.map((value) => `'${value.replaceAll("'", "''")}'`).join(', '))

/** What a bulk action does to each selected task (see bulk.ts's BulkAction). */
export type ActionKind = 'suspend' | 'reset' | 'hard_reset' | 'status'
/** Where the selected tasks come from: the dataset's tasks, the ids named, or the tasks of the jobs named. */
export type SelectionSource = 'dataset' | 'task ids' | 'job ids'

/**
 * The key of a selection statement: one is prepared per combination of
 * action, source, set of statuses and name filter. The statuses are keyed
 * each once and sorted, so that however a client repeats or orders them
 * there are at most 2^8 status filters, each prepared once.
 */
export function selectionKey(kind: ActionKind, source: SelectionSource, statuses: readonly string[] | undefined, byName: boolean): string {
  // Its key would read as no status filter: such a selection is never run (it selects nothing).
  if (statuses?.length === 0) throw new Error('an empty status filter has no selection statement')
  const filter = statuses === undefined ? '' : [...new Set(statuses)].sort().join('|')
  return [kind, source, filter, byName ? 'name' : ''].join(':')
}

function parseSelectionKey(key: string) {
  const [kind, source, statuses, byName] = key.split(':') as [ActionKind, SelectionSource, string, string]
  // The statuses were checked against the task statuses; they are written into the SQL as they are.
  const filter = statuses === '' ? undefined : statuses.split('|')
  if (filter?.some((status) => !(TASK_STATUSES as readonly string[]).includes(status))) throw new Error(`not task statuses: ${statuses}`)
  return { kind, source, statuses: filter, byName: byName === 'name' }
}

/** A task's failures, 0 when its document has none. */
const failures = sql`coalesce(json_extract(${tasks.doc}, '$.failures'), 0)`
/** A selected task whose status the one UPDATE changes (a hard-reset task may keep its status). */
const movedTask = sql`${bulkTasks.fromStatus} IS NOT ${bulkTasks.finalStatus}`
const changedTask = alias(bulkTasks, 'changed')
const laterDepends = alias(taskDepends, 'later_depends')

/** A selected task's column, inside a statement on `tasks`. */
const selected = (column: SQL) => sql`(SELECT ${column} FROM ${bulkTasks} WHERE ${bulkTasks.subject} = ${tasks}.rowid)`
const byChosenRowid = (table: typeof bulkTasks | typeof bulkFollows | typeof bulkRequirementsTasks) => sql`${tasks}.rowid IN (SELECT ${table.subject} FROM ${table})`

/** Where a task set reset moves on to (§6.3): its dataset's limit and debug flag are the placeholders `limit` and `debug`. */
const retry = sql`CASE WHEN ${bulkTasks.failures} > ${p('limit')} THEN 'failed' WHEN ${p('debug')} THEN 'suspended' ELSE 'waiting' END`
const next = sql`CASE WHEN ${bulkTasks.toStatus} = 'reset' THEN ${retry} ELSE ${bulkTasks.toStatus} END`

export function bulkQueries(db: Db) {
  /** A task the action changes: one of `bulk_task`, found by rowid. */
  const isChanged = (rowid: SQL) => exists(db.select({ one: sql`1` }).from(changedTask).where(eq(changedTask.subject, rowid)))
  /**
   * A selected task is ready when every task it depends on is complete once
   * the action is done: complete now and not among the tasks that change
   * (which never end complete when this is asked).
   */
  const readyAfter = ready(db, bulkTasks.taskId, taskDepends, sql`NOT ${isChanged(sql`${dependency}.rowid`)}`)
  /** Ready now (for a statement that reads task_depends itself). */
  const readyNow = ready(db, tasks.taskId, laterDepends)
  /**
   * The dependents (`tasks`) of the changed tasks whose status the action did
   * not set: the others' final status took their dependencies' into account.
   * A hard-reset task that kept its status (only its failures changed) is one.
   */
  const notSetByAction = notExists(
    db
      .select({ one: sql`1` })
      .from(changedTask)
      .where(and(eq(changedTask.subject, sql`${tasks}.rowid`), sql`${changedTask.toStatus} IS NOT ${changedTask.fromStatus}`)),
  )
  const followOf = (from: string, to: string, reason: string, condition: SQL) =>
    prepared(db, () =>
      db
        .insert(bulkFollows)
        .select(
          db
            .select({
              subject: sql<number>`${tasks}.rowid`.as('subject'),
              jobId: tasks.jobId,
              fromStatus: sql`${from}`.as('from_status'),
              toStatus: sql`${to}`.as('to_status'),
              reason: sql`${reason}`.as('reason'),
            })
            .from(bulkTasks)
            .crossJoin(taskDepends)
            .crossJoin(tasks)
            .where(and(eq(taskDepends.dependsOn, bulkTasks.taskId), eq(tasks.taskId, taskDepends.taskId), notSetByAction, condition)),
        )
        .onConflictDoNothing(),
    )
  /**
   * A task of `tasks` as `bulk_task` stages it, set to `to` by the action.
   * Without `final`, where it ends is decided afterwards (scheduledFinal,
   * plainFinal), by its failures (a retry) and its dependencies (queued by
   * the server); with it, the action alone decides, and neither is read.
   */
  const stagedTask = (to: SQL, final?: SQL) => ({
    subject: sql<number>`${tasks}.rowid`.as('subject'),
    taskId: tasks.taskId,
    jobId: tasks.jobId,
    datasetId: sql`${tasks.datasetId}`.as('dataset_id'),
    fromStatus: sql`${tasks.status}`.as('from_status'),
    toStatus: to.as('to_status'),
    failures: (final ? sql`NULL` : failures).as('failures'),
    hasDepends: (final ? sql`NULL` : sql`${exists(db.select({ one: sql`1` }).from(taskDepends).where(eq(taskDepends.taskId, tasks.taskId)))}`).as('has_depends'),
    retryTo: sql`NULL`.as('retry_to'),
    finalStatus: (final ?? sql`NULL`).as('final_status'),
  })
  /** Jobs into `rollup_job`, each once. */
  const listJobs = (select: ReturnType<typeof db.select>) => db.insert(rollupJobs).select(select as never).onConflictDoNothing()

  return {
    clearIds: prepared(db, () => db.delete(bulkIds)),
    clearTasks: prepared(db, () => db.delete(bulkTasks)),
    clearFollows: prepared(db, () => db.delete(bulkFollows)),
    clearRequirements: prepared(db, () => db.delete(bulkRequirements)),
    clearRequirementsTasks: prepared(db, () => db.delete(bulkRequirementsTasks)),
    clearRollUpJobs: prepared(db, () => db.delete(rollupJobs)),
    clearRollUpChanges: prepared(db, () => db.delete(rollupChanges)),
    fillIds: prepared(db, () =>
      db
        .insert(bulkIds)
        .select(db.select({ id: sql<string>`value`.as('id') }).from(sql`json_each(${p('ids')})`).where(sql`true`))
        .onConflictDoNothing(),
    ),
    foreignTask: prepared(db, () =>
      db
        .select({ id: bulkIds.id })
        .from(bulkIds)
        .where(notExists(db.select({ one: sql`1` }).from(tasks).where(and(eq(tasks.taskId, bulkIds.id), eq(tasks.datasetId, p('dataset_id'))))))
        .limit(1),
    ),
    foreignJob: prepared(db, () =>
      db
        .select({ id: bulkIds.id })
        .from(bulkIds)
        .where(notExists(db.select({ one: sql`1` }).from(jobs).where(and(eq(jobs.jobId, bulkIds.id), eq(jobs.datasetId, p('dataset_id'))))))
        .limit(1),
    ),
    datasetRetry: prepared(db, () =>
      db
        .select({
          max_failures: sql<unknown>`json_extract(${datasets.doc}, '$.max_failures')`.as('max_failures'),
          debug: sql<unknown>`json_extract(${datasets.doc}, '$.debug')`.as('debug'),
        })
        .from(datasets)
        .where(eq(datasets.datasetId, p('dataset_id'))),
    ),
    /** Fills `bulk_task` with the selected tasks that the action changes, with where the action sends each. */
    selection: preparedPer(db, (key: string) => {
      const { kind, source, statuses, byName } = parseSelectionKey(key)
      const to = { suspend: sql`'suspended'`, reset: sql`'waiting'`, hard_reset: sql`CASE WHEN ${tasks.status} IN ('waiting', 'queued') THEN ${tasks.status} ELSE 'waiting' END`, status: sql`${p('to')}` }[kind]
      const changes = {
        suspend: sql`${tasks.status} NOT IN ('complete', 'suspended')`,
        reset: sql`${tasks.status} IN ('failed', 'suspended')`,
        hard_reset: sql`NOT (${tasks.status} IN ('waiting', 'queued') AND ${failures} = 0)`,
        status: sql`${tasks.status} IS NOT ${p('to')}`,
      }[kind]
      const fields = stagedTask(to)
      const conditions = [
        eq(tasks.datasetId, p('dataset_id')),
        changes,
        statuses ? sql`${tasks.status} IN (${literals(statuses)})` : undefined,
        byName ? eq(tasks.name, p('name')) : undefined,
      ]
      // From the ids named (CROSS JOIN keeps that order), else along the dataset's (dataset_id, status) or (dataset_id) index.
      const select =
        source === 'task ids' ? db.select(fields).from(bulkIds).crossJoin(tasks).where(and(eq(tasks.taskId, bulkIds.id), ...conditions))
        : source === 'job ids'
          ? db
              .select(fields)
              .from(bulkIds)
              .crossJoin(jobs)
              .crossJoin(tasks)
              .where(and(eq(jobs.jobId, bulkIds.id), eq(jobs.datasetId, p('dataset_id')), eq(tasks.datasetId, jobs.datasetId), eq(tasks.jobIndex, jobs.jobIndex), eq(tasks.jobId, jobs.jobId), ...conditions))
          : db.select(fields).from(tasks).where(and(...conditions))
      return db.insert(bulkTasks).select(select)
    }),
    /**
     * Fills `bulk_task` with the queue action's tasks, the rowids of the JSON
     * list `rowids` (ready waiting tasks of any datasets), each found by its
     * rowid (the CROSS JOIN keeps the list outermost): set queued, and ending
     * so, as nothing follows a task queued.
     */
    queueChosen: prepared(db, () =>
      db
        .insert(bulkTasks)
        .select(db.select(stagedTask(sql`'queued'`, sql`'queued'`)).from(sql`json_each(${p('rowids')}) AS chosen`).crossJoin(tasks).where(sql`${tasks}.rowid = chosen.value`)),
    ),
    /** With the scheduler: a reset task moves on, a waiting one that is ready is queued. */
    scheduledFinal: prepared(db, () =>
      db.update(bulkTasks).set({
        retryTo: sql`CASE WHEN ${bulkTasks.toStatus} = 'reset' THEN ${retry} END`,
        finalStatus: sql`CASE
          WHEN ${bulkTasks.toStatus} IS ${bulkTasks.fromStatus} THEN ${bulkTasks.fromStatus}
          WHEN ${next} = 'waiting' AND ${readyAfter} THEN 'queued'
          ELSE ${next} END`,
      }),
    ),
    plainFinal: prepared(db, () => db.update(bulkTasks).set({ finalStatus: sql`${bulkTasks.toStatus}` })),
    // One json_set per task, so that the counting and queue triggers see one old and one new status.
    apply: prepared(db, () =>
      db
        .update(tasks)
        .set({ doc: sql`json_set(${tasks.doc}, '$.status', ${selected(sql`${bulkTasks.finalStatus}`)}, '$.status_changed', ${p('now')})` })
        .where(byChosenRowid(bulkTasks)),
    ),
    // A task that keeps its status keeps its status_changed: the last pair then sets the status again.
    applyHardReset: prepared(db, () => {
      const keeps = selected(sql`${bulkTasks.toStatus} IS ${bulkTasks.fromStatus}`)
      const status = selected(sql`${bulkTasks.finalStatus}`)
      return db
        .update(tasks)
        .set({ doc: sql`json_set(${tasks.doc}, '$.status', ${status}, '$.failures', 0, iif(${keeps}, '$.status', '$.status_changed'), iif(${keeps}, ${status}, ${p('now')}))` })
        .where(byChosenRowid(bulkTasks))
    }),
    /**
     * Around the one UPDATE of the selected tasks (apply, applyHardReset):
     * the per-row triggers of task_counts, job_task_counts and task_depends
     * skip its rows (see schema.ts, bulkUpdate), and the counts statements
     * below apply its changes to the counts in one pass each.
     */
    startBulkUpdate: prepared(db, () => db.insert(bulkUpdate).values({ active: 1 })),
    endBulkUpdate: prepared(db, () => db.delete(bulkUpdate)),
    /** Each dataset's count of each status its changed tasks left, lowered by how many left it. */
    taskCountsLeft: prepared(db, () => {
      const left = db
        .select({
          left_dataset: sql<string>`${bulkTasks.datasetId}`.as('left_dataset'),
          left_status: sql<string>`${bulkTasks.fromStatus}`.as('left_status'),
          tasks_left: sql<number>`count(*)`.as('tasks_left'),
        })
        .from(bulkTasks)
        .where(movedTask)
        .groupBy(bulkTasks.datasetId, bulkTasks.fromStatus)
        .as('left_status')
      return db
        .update(taskCounts)
        .set({ n: sql`${taskCounts.n} - ${left.tasks_left}` })
        .from(left)
        .where(and(eq(taskCounts.datasetId, left.left_dataset), eq(taskCounts.status, left.left_status)))
    }),
    /** …and of each status they entered, raised. */
    taskCountsEntered: prepared(db, () =>
      db
        .insert(taskCounts)
        .select(
          db
            .select({ datasetId: sql`${bulkTasks.datasetId}`.as('dataset_id'), status: sql`${bulkTasks.finalStatus}`.as('status'), n: sql`count(*)`.as('n') })
            .from(bulkTasks)
            .where(movedTask)
            .groupBy(bulkTasks.datasetId, bulkTasks.finalStatus),
        )
        .onConflictDoUpdate({ target: [taskCounts.datasetId, taskCounts.status], set: { n: sql`${taskCounts.n} + excluded.n` } }),
    ),
    /** Each job's counts of its changed tasks' statuses, moved in one update of its row (`moved_<status>`: by how much). */
    jobTaskCountsMoved: prepared(db, () => {
      const moved = db
        .select({
          moved_job: sql<string>`${bulkTasks.jobId}`.as('moved_job'),
          ...Object.fromEntries(
            TASK_STATUSES.map((status) => [`moved_${status}`, sql<number>`sum(${bulkTasks.finalStatus} IS ${status}) - sum(${bulkTasks.fromStatus} IS ${status})`.as(`moved_${status}`)]),
          ),
        })
        .from(bulkTasks)
        .where(and(movedTask, isNotNull(bulkTasks.jobId)))
        .groupBy(bulkTasks.jobId)
        .as('moved')
      const by = moved as unknown as Record<string, SQL>
      return db
        .update(jobTaskCounts)
        .set(Object.fromEntries(TASK_STATUSES.map((status) => [status, sql`${jobTaskCounts[status]} + ${by[`moved_${status}`]}`])))
        .from(moved)
        .where(eq(jobTaskCounts.jobId, by.moved_job!))
    }),
    unqueueDependents: followOf(
      'queued',
      'waiting',
      'a dependency runs again',
      sql`${bulkTasks.fromStatus} = 'complete' AND ${bulkTasks.finalStatus} IS NOT 'complete' AND +${tasks.status} = 'queued'`,
    ),
    queueDependents: followOf(
      'waiting',
      'queued',
      'dependencies complete',
      sql`${bulkTasks.finalStatus} = 'complete' AND ${bulkTasks.fromStatus} IS NOT 'complete' AND +${tasks.status} = 'waiting' AND ${readyNow}`,
    ),
    applyFollow: prepared(db, () =>
      db
        .update(tasks)
        .set({ doc: sql`json_set(${tasks.doc}, '$.status', (SELECT ${bulkFollows.toStatus} FROM ${bulkFollows} WHERE ${bulkFollows.subject} = ${tasks}.rowid), '$.status_changed', ${p('now')})` })
        .where(byChosenRowid(bulkFollows)),
    ),
    // A task the action sets steadily active (no follow-up of the action moves it again) makes its job active.
    activeJobs: prepared(db, () =>
      listJobs(
        db
          .select({ jobId: sql`${bulkTasks.jobId}`.as('job_id') })
          .from(bulkTasks)
          .where(and(isNotNull(bulkTasks.jobId), sql`${bulkTasks.finalStatus} IN (${literals(STEADILY_ACTIVE)})`, sql`${bulkTasks.toStatus} IS NOT ${bulkTasks.fromStatus}`)) as never,
      ),
    ),
    // Between two statuses that are active whatever the task waits for, its job's status cannot change.
    touchedJobs: prepared(db, () =>
      listJobs(
        db
          .select({ jobId: sql`${bulkTasks.jobId}`.as('job_id') })
          .from(bulkTasks)
          .where(
            and(
              isNotNull(bulkTasks.jobId),
              sql`${bulkTasks.fromStatus} IS NOT ${bulkTasks.finalStatus}`,
              sql`NOT (${bulkTasks.fromStatus} IN (${literals(STEADILY_ACTIVE)}) AND ${bulkTasks.finalStatus} IN (${literals(STEADILY_ACTIVE)}))`,
            ),
          ) as never,
      ),
    ),
    followJobs: prepared(db, () => listJobs(db.select({ jobId: sql`${bulkFollows.jobId}`.as('job_id') }).from(bulkFollows).where(isNotNull(bulkFollows.jobId)) as never)),
    /** The jobs of the tasks that wait, directly or not, for a task that became or stopped being failed or suspended. */
    downstreamJobs: prepared(db, () =>
      listJobs(
        db
          .select({ jobId: sql`${tasks.jobId}`.as('job_id') })
          .from(tasks)
          .where(
            and(
              sql`${tasks.taskId} IN (
                WITH RECURSIVE downstream(task_id) AS (
                  SELECT d.task_id FROM ${bulkTasks} b JOIN ${taskDepends} d ON d.depends_on = b.task_id
                  WHERE b.from_status IN (${literals(BLOCKING)}) OR b.final_status IN (${literals(BLOCKING)})
                  UNION SELECT d.task_id FROM ${taskDepends} d JOIN downstream ON d.depends_on = downstream.task_id)
                SELECT task_id FROM downstream)`,
              isNotNull(tasks.jobId),
            ),
          ) as never,
      ),
    ),
    /** The jobs listed in `rollup_job` with their task counts, as the roll-up's jobState reads one. */
    rollUpStates: prepared(db, () =>
      db
        .select(jobStateColumns)
        .from(rollupJobs)
        .crossJoin(jobs)
        .leftJoin(jobTaskCounts, eq(jobTaskCounts.jobId, jobs.jobId))
        .where(eq(jobs.jobId, rollupJobs.jobId)),
    ),
    /** The listed jobs that are stopped, as changes back to processing. */
    reopenChanges: prepared(db, () =>
      db.insert(rollupChanges).select(
        db
          .select({
            jobId: jobs.jobId,
            subject: sql<number>`${jobs}.rowid`.as('subject'),
            datasetId: sql`${jobs.datasetId}`.as('dataset_id'),
            fromStatus: sql`${jobs.status}`.as('from_status'),
            toStatus: sql`'processing'`.as('to_status'),
            reason: sql`'a task is active again'`.as('reason'),
          })
          .from(rollupJobs)
          .crossJoin(jobs)
          .where(and(eq(jobs.jobId, rollupJobs.jobId), inArray(jobs.status, ['complete', 'errors', 'suspended']))),
      ),
    ),
    saveRollUpChanges: prepared(db, () =>
      db.insert(rollupChanges).select(
        db
          .select({
            jobId: sql`value ->> 0`.as('job_id'),
            subject: sql`value ->> 1`.as('subject'),
            datasetId: sql`value ->> 2`.as('dataset_id'),
            fromStatus: sql`value ->> 3`.as('from_status'),
            toStatus: sql`value ->> 4`.as('to_status'),
            reason: sql`value ->> 5`.as('reason'),
          })
          .from(sql`json_each(${p('changes')})`),
      ),
    ),
    applyRollUpChanges: prepared(db, () =>
      db
        .update(jobs)
        .set({ doc: sql`json_set(${jobs.doc}, '$.status', ${rollupChanges.toStatus}, '$.status_changed', ${p('now')})` })
        .from(rollupChanges)
        .where(eq(jobs.jobId, rollupChanges.jobId)),
    ),
    changedDatasets: prepared(db, () =>
      db
        .select({
          dataset_id: rollupChanges.datasetId,
          reopened: sql<number>`max(${rollupChanges.toStatus} = 'processing')`.as('reopened'),
          stopped: sql<number>`max(${rollupChanges.fromStatus} = 'processing' AND ${rollupChanges.toStatus} <> 'processing')`.as('stopped'),
        })
        .from(rollupChanges)
        .groupBy(rollupChanges.datasetId),
    ),
    nameExists: prepared(db, () =>
      db.select({ one: sql<number>`1`.as('one') }).from(tasks).where(and(eq(tasks.datasetId, p('dataset_id')), eq(tasks.name, p('name')))).limit(1),
    ),
    requirementsOfName: prepared(db, () =>
      db.insert(bulkRequirementsTasks).select(
        db
          .select({
            subject: sql<number>`${tasks}.rowid`.as('subject'),
            old: sql<string>`CASE WHEN json_type(${tasks.doc}, '$.requirements') = 'object' THEN json_extract(${tasks.doc}, '$.requirements') ELSE '{}' END`.as('old'),
          })
          .from(tasks)
          .where(and(eq(tasks.datasetId, p('dataset_id')), eq(tasks.name, p('name')), sql`${tasks.status} IS NOT 'complete'`)),
      ),
    ),
    distinctRequirements: prepared(db, () =>
      db
        .insert(bulkRequirements)
        .select(db.select({ old: bulkRequirementsTasks.old, new: sql`NULL`.as('new') }).from(bulkRequirementsTasks).where(sql`true`))
        .onConflictDoNothing(),
    ),
    oldRequirements: prepared(db, () => db.select({ old: bulkRequirements.old }).from(bulkRequirements)),
    newRequirements: prepared(db, () =>
      db
        .insert(bulkRequirements)
        .select(db.select({ old: sql`value ->> 0`.as('old'), new: sql`value ->> 1`.as('new') }).from(sql`json_each(${p('pairs')})`).where(sql`true`))
        .onConflictDoUpdate({ target: bulkRequirements.old, set: { new: sql`excluded.new` } }),
    ),
    applyRequirements: prepared(db, () =>
      db
        .update(tasks)
        .set({
          doc: sql`json_set(${tasks.doc}, '$.requirements', json((SELECT ${bulkRequirements.new} FROM ${bulkRequirementsTasks}
            JOIN ${bulkRequirements} ON ${bulkRequirements.old} = ${bulkRequirementsTasks.old} WHERE ${bulkRequirementsTasks.subject} = ${tasks}.rowid)))`,
        })
        .where(byChosenRowid(bulkRequirementsTasks)),
    ),

    // ---- the history entries, in chain order: the client's change, the retry, the queueing, the dependents ----
    clientEntries: entriesFrom(db, 'task', TASK_STATUSES, 'client', () =>
      db
        .select({ subject: bulkTasks.subject, from_status: bulkTasks.fromStatus, to_status: bulkTasks.toStatus, reason: sql`NULL`.as('reason') })
        .from(bulkTasks)
        .where(sql`${bulkTasks.fromStatus} IS NOT ${bulkTasks.toStatus}`),
    ),
    retryEntries: entriesFrom(db, 'task', TASK_STATUSES, 'server', () =>
      db
        .select({
          subject: bulkTasks.subject,
          from_status: sql`'reset'`.as('from_status'),
          to_status: sql`${bulkTasks.retryTo}`.as('to_status'),
          reason: sql`CASE ${bulkTasks.retryTo} WHEN 'failed' THEN 'failures exceed max_failures' WHEN 'suspended' THEN 'dataset in debug mode' ELSE 'retry after reset' END`.as('reason'),
        })
        .from(bulkTasks)
        .where(isNotNull(bulkTasks.retryTo)),
    ),
    queuedEntries: entriesFrom(db, 'task', TASK_STATUSES, 'server', () =>
      db
        .select({
          subject: bulkTasks.subject,
          from_status: sql`'waiting'`.as('from_status'),
          to_status: sql`'queued'`.as('to_status'),
          reason: sql`CASE WHEN ${bulkTasks.hasDepends} THEN 'dependencies complete' ELSE 'no dependencies' END`.as('reason'),
        })
        .from(bulkTasks)
        .where(sql`${bulkTasks.finalStatus} = 'queued' AND ${bulkTasks.toStatus} IS NOT 'queued'`),
    ),
    followEntries: entriesFrom(db, 'task', TASK_STATUSES, 'server', () =>
      db.select({ subject: bulkFollows.subject, from_status: bulkFollows.fromStatus, to_status: bulkFollows.toStatus, reason: bulkFollows.reason }).from(bulkFollows),
    ),
    jobEntries: entriesFrom(db, 'job', JOB_STATUSES, 'server', () =>
      db.select({ subject: rollupChanges.subject, from_status: rollupChanges.fromStatus, to_status: rollupChanges.toStatus, reason: rollupChanges.reason }).from(rollupChanges),
    ),
  }
}

export type BulkQueries = ReturnType<typeof bulkQueries>
