/**
 * Bulk changes of tasks (API.md §7.2): the selected tasks of one dataset
 * changed inside the caller's write transaction by set-based statements,
 * never a loop of single-task changes, following the rules Transitions
 * applies to one task: each step is its own history entry (the client's
 * change, then with the scheduler the server's retry of a reset task and its
 * queueing when ready, §6.2–6.3); the queued dependents of a complete task
 * that runs again go back to waiting, the dependents of a task completed are
 * queued when ready; the jobs whose tasks changed are rolled up together
 * (decided by RollUp's rules, read and written set-based), then their datasets (§6.5).
 *
 * The work is staged in scratch tables (TEMP: in memory, private to the
 * connection, emptied before and after each use): `bulk_id` holds the ids a
 * request names, `bulk_task` the selected tasks that change with where each
 * one goes, `bulk_follow` the dependents that follow them.
 */
import type { Database, Statement } from 'bun:sqlite'
import type { Db } from '../../db'
import { fail } from '../../errors'
import { SERVER, type Actor, type HistoryService } from '../history/service'
import type { ServerReason } from '../history/reasons'
import { schedulerQueries } from './queries'
import { RollUp, type JobState } from './rollup'
import { BLOCKING, STEADILY_ACTIVE, type Transitions } from './transitions'

/** What a bulk action does to each selected task. */
export type BulkAction =
  /** Tasks not complete (and not suspended already) → suspended. */
  | { kind: 'suspend' }
  /** Failed and suspended tasks → waiting, failures kept. */
  | { kind: 'reset' }
  /** Any task → waiting with failures 0; a waiting or queued one keeps its status, its failures set to 0. */
  | { kind: 'hard_reset' }
  /** Tasks not in the status already → that status. */
  | { kind: 'status'; status: string }

/** Which tasks of the dataset an action looks at; the filters combine (AND). */
export interface TaskSelection {
  datasetId: string
  /** Tasks by id; each must be a task of the dataset (400 otherwise). */
  taskIds?: readonly string[]
  /** The tasks of these jobs; each must be a job of the dataset (400 otherwise). */
  jobIds?: readonly string[]
  statuses?: readonly string[]
  name?: string
}

/** Per dataset, whether a job of it went back to processing, and whether one left processing. */
type Datasets = Map<string, { reopened: boolean; stopped: boolean }>

const list = (values: readonly string[]) => values.map((value) => `'${value.replaceAll("'", "''")}'`).join(', ')

const SCRATCH = [
  `CREATE TEMP TABLE IF NOT EXISTS bulk_id (id TEXT PRIMARY KEY) WITHOUT ROWID`,
  // subject: the task's rowid (as the history names it). retry_to: where a task set reset moves on to (§6.3).
  `CREATE TEMP TABLE IF NOT EXISTS bulk_task (subject INTEGER PRIMARY KEY, task_id TEXT NOT NULL, job_id TEXT,
    from_status TEXT, to_status TEXT, failures INTEGER, has_depends INTEGER, retry_to TEXT, final_status TEXT)`,
  `CREATE TEMP TABLE IF NOT EXISTS bulk_follow (subject INTEGER PRIMARY KEY, job_id TEXT, from_status TEXT, to_status TEXT, reason TEXT)`,
  // A task's requirements before and after a bulk_requirements merge, and the tasks it applies to.
  `CREATE TEMP TABLE IF NOT EXISTS bulk_requirements (old TEXT PRIMARY KEY, new TEXT) WITHOUT ROWID`,
  `CREATE TEMP TABLE IF NOT EXISTS bulk_requirements_task (subject INTEGER PRIMARY KEY, old TEXT NOT NULL)`,
  // The jobs a bulk action's roll-up looks at, and the changes it makes to them.
  `CREATE TEMP TABLE IF NOT EXISTS rollup_job (job_id TEXT PRIMARY KEY) WITHOUT ROWID`,
  `CREATE TEMP TABLE IF NOT EXISTS rollup_change (job_id TEXT PRIMARY KEY, subject INTEGER, dataset_id TEXT, from_status TEXT, to_status TEXT, reason TEXT) WITHOUT ROWID`,
]
const CLEAR = ['bulk_id', 'bulk_task', 'bulk_follow', 'bulk_requirements', 'bulk_requirements_task'].map((table) => `DELETE FROM temp.${table}`)
const CLEAR_ROLLUP = ['rollup_job', 'rollup_change'].map((table) => `DELETE FROM temp.${table}`)

/** Where each action sends a task (`t`: the task), and which tasks it changes. */
const ACTIONS = {
  suspend: { to: `'suspended'`, changes: `t.status NOT IN ('complete', 'suspended')` },
  reset: { to: `'waiting'`, changes: `t.status IN ('failed', 'suspended')` },
  hard_reset: {
    to: `CASE WHEN t.status IN ('waiting', 'queued') THEN t.status ELSE 'waiting' END`,
    changes: `NOT (t.status IN ('waiting', 'queued') AND coalesce(json_extract(t.doc, '$.failures'), 0) = 0)`,
  },
  status: { to: `$to`, changes: `t.status IS NOT $to` },
} as const

/** A task's requirements as stored, `{}` when it has none (or they are not an object). */
const REQUIREMENTS_OF = (doc: string) => `CASE WHEN json_type(${doc}, '$.requirements') = 'object' THEN json_extract(${doc}, '$.requirements') ELSE '{}' END`

/** Where a task set reset moves on to (§6.3): its dataset's limit and debug flag are parameters. */
const RETRY = `CASE WHEN failures > $limit THEN 'failed' WHEN $debug THEN 'suspended' ELSE 'waiting' END`
const NEXT = `CASE WHEN to_status = 'reset' THEN ${RETRY} ELSE to_status END`
/**
 * A selected task is ready when every task it depends on is complete once
 * the action is done: complete now and not among the tasks that change
 * (which never end complete when this is asked).
 */
const READY_AFTER = `NOT EXISTS (SELECT 1 FROM task_depends d WHERE d.task_id = bulk_task.task_id
  AND NOT EXISTS (SELECT 1 FROM tasks p WHERE p.task_id = d.depends_on AND p.status = 'complete'
    AND NOT EXISTS (SELECT 1 FROM temp.bulk_task o WHERE o.subject = p.rowid)))`
/**
 * Dependents (`t`) of the changed tasks (`b`) whose status the action did
 * not set: the others' final status took their dependencies' into account.
 * A hard-reset task that kept its status (only its failures changed) is one.
 * CROSS JOIN keeps this order (from the changed tasks along task_depends),
 * and the unary + on the status keeps SQLite off the index of every task in it.
 */
const DEPENDENTS = `FROM temp.bulk_task b CROSS JOIN task_depends d ON d.depends_on = b.task_id CROSS JOIN tasks t ON t.task_id = d.task_id
  WHERE NOT EXISTS (SELECT 1 FROM temp.bulk_task o WHERE o.subject = t.rowid AND o.to_status IS NOT o.from_status)`
/** A task's column in `temp.bulk_task`, inside a statement on `tasks`. */
const SELECTED = (column: string) => `(SELECT b.${column} FROM temp.bulk_task b WHERE b.subject = tasks.rowid)`

const SQL = {
  fillIds: `INSERT OR IGNORE INTO temp.bulk_id (id) SELECT value FROM json_each($ids)`,
  foreignTask: `SELECT i.id FROM temp.bulk_id i WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = i.id AND t.dataset_id = $dataset_id) LIMIT 1`,
  foreignJob: `SELECT i.id FROM temp.bulk_id i WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.job_id = i.id AND j.dataset_id = $dataset_id) LIMIT 1`,
  datasetRetry: `SELECT json_extract(doc, '$.max_failures') AS maxFailures, json_extract(doc, '$.debug') AS debug FROM datasets WHERE dataset_id = $dataset_id`,
  /** With the scheduler: a reset task moves on, a waiting one that is ready is queued. */
  scheduledFinal: `
    UPDATE temp.bulk_task SET
      retry_to = CASE WHEN to_status = 'reset' THEN ${RETRY} END,
      final_status = CASE
        WHEN to_status IS from_status THEN from_status
        WHEN ${NEXT} = 'waiting' AND ${READY_AFTER} THEN 'queued'
        ELSE ${NEXT} END`,
  plainFinal: `UPDATE temp.bulk_task SET final_status = to_status`,
  // One json_set per task, so that the counting and queue triggers see one old and one new status.
  // Each statement on tasks finds its rows by rowid from the scratch table (an UPDATE ... FROM may walk every task instead).
  apply: `
    UPDATE tasks SET doc = json_set(doc, '$.status', ${SELECTED('final_status')}, '$.status_changed', $now)
    WHERE rowid IN (SELECT subject FROM temp.bulk_task)`,
  // A task that keeps its status keeps its status_changed: the last pair then sets the status again.
  applyHardReset: `
    UPDATE tasks SET doc = json_set(doc, '$.status', ${SELECTED('final_status')}, '$.failures', 0,
      iif(${SELECTED('to_status IS b.from_status')}, '$.status', '$.status_changed'),
      iif(${SELECTED('to_status IS b.from_status')}, ${SELECTED('final_status')}, $now))
    WHERE rowid IN (SELECT subject FROM temp.bulk_task)`,
  unqueueDependents: `
    INSERT OR IGNORE INTO temp.bulk_follow (subject, job_id, from_status, to_status, reason)
    SELECT t.rowid, t.job_id, 'queued', 'waiting', 'a dependency runs again' ${DEPENDENTS}
      AND b.from_status = 'complete' AND b.final_status IS NOT 'complete' AND +t.status = 'queued'`,
  queueDependents: `
    INSERT OR IGNORE INTO temp.bulk_follow (subject, job_id, from_status, to_status, reason)
    SELECT t.rowid, t.job_id, 'waiting', 'queued', 'dependencies complete' ${DEPENDENTS}
      AND b.final_status = 'complete' AND b.from_status IS NOT 'complete' AND +t.status = 'waiting'
      AND NOT EXISTS (SELECT 1 FROM task_depends d2 WHERE d2.task_id = t.task_id
        AND NOT EXISTS (SELECT 1 FROM tasks p WHERE p.task_id = d2.depends_on AND p.status = 'complete'))`,
  applyFollow: `
    UPDATE tasks SET doc = json_set(doc, '$.status', (SELECT f.to_status FROM temp.bulk_follow f WHERE f.subject = tasks.rowid), '$.status_changed', $now)
    WHERE rowid IN (SELECT subject FROM temp.bulk_follow)`,
  // A task the action sets steadily active (no follow-up of the action moves it again) makes its job active.
  activeJobs: `
    INSERT OR IGNORE INTO temp.rollup_job (job_id) SELECT job_id FROM temp.bulk_task
    WHERE job_id IS NOT NULL AND final_status IN (${list(STEADILY_ACTIVE)}) AND to_status IS NOT from_status`,
  // Between two statuses that are active whatever the task waits for, its job's status cannot change.
  touchedJobs: `
    INSERT OR IGNORE INTO temp.rollup_job (job_id) SELECT job_id FROM temp.bulk_task
    WHERE job_id IS NOT NULL AND from_status IS NOT final_status
      AND NOT (from_status IN (${list(STEADILY_ACTIVE)}) AND final_status IN (${list(STEADILY_ACTIVE)}))`,
  followJobs: `INSERT OR IGNORE INTO temp.rollup_job (job_id) SELECT job_id FROM temp.bulk_follow WHERE job_id IS NOT NULL`,
  /** The jobs of the tasks that wait, directly or not, for a task that became or stopped being failed or suspended. */
  downstreamJobs: `
    WITH RECURSIVE downstream(task_id) AS (
      SELECT d.task_id FROM temp.bulk_task b JOIN task_depends d ON d.depends_on = b.task_id
      WHERE b.from_status IN (${list(BLOCKING)}) OR b.final_status IN (${list(BLOCKING)})
      UNION SELECT d.task_id FROM task_depends d JOIN downstream ON d.depends_on = downstream.task_id)
    INSERT OR IGNORE INTO temp.rollup_job (job_id)
    SELECT t.job_id FROM downstream JOIN tasks t ON t.task_id = downstream.task_id WHERE t.job_id IS NOT NULL`,
  nameExists: `SELECT 1 AS found FROM tasks WHERE dataset_id = $dataset_id AND name = $name LIMIT 1`,
  requirementsOfName: `
    INSERT INTO temp.bulk_requirements_task (subject, old)
    SELECT rowid, ${REQUIREMENTS_OF('doc')} FROM tasks WHERE dataset_id = $dataset_id AND name = $name AND status IS NOT 'complete'`,
  distinctRequirements: `INSERT OR IGNORE INTO temp.bulk_requirements (old) SELECT old FROM temp.bulk_requirements_task`,
  oldRequirements: `SELECT old FROM temp.bulk_requirements`,
  newRequirements: `INSERT OR REPLACE INTO temp.bulk_requirements (old, new) SELECT value ->> 0, value ->> 1 FROM json_each($pairs)`,
  /** The jobs listed in `rollup_job` with their task counts, as RollUp's jobState reads one. */
  rollUpStates: `
    SELECT j.rowid, j.job_id, j.dataset_id, j.job_index, j.status,
      c.idle, c.waiting, c.queued, c.processing, c.reset, c.suspended, c.failed, c.complete
    FROM temp.rollup_job b CROSS JOIN jobs j ON j.job_id = b.job_id LEFT JOIN job_task_counts c ON c.job_id = j.job_id`,
  /** The listed jobs that are stopped, as changes back to processing. */
  reopenChanges: `
    INSERT INTO temp.rollup_change (job_id, subject, dataset_id, from_status, to_status, reason)
    SELECT j.job_id, j.rowid, j.dataset_id, j.status, 'processing', 'a task is active again'
    FROM temp.rollup_job b CROSS JOIN jobs j ON j.job_id = b.job_id WHERE j.status IN ('complete', 'errors', 'suspended')`,
  changedDatasets: `
    SELECT dataset_id AS datasetId, max(to_status = 'processing') AS reopened, max(from_status = 'processing' AND to_status <> 'processing') AS stopped
    FROM temp.rollup_change GROUP BY dataset_id`,
  saveRollUpChanges: `
    INSERT INTO temp.rollup_change (job_id, subject, dataset_id, from_status, to_status, reason)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each($changes)`,
  applyRollUpChanges: `
    UPDATE jobs SET doc = json_set(jobs.doc, '$.status', c.to_status, '$.status_changed', $now)
    FROM temp.rollup_change c WHERE jobs.job_id = c.job_id`,
  applyRequirements: `
    UPDATE tasks SET doc = json_set(doc, '$.requirements',
      json((SELECT m.new FROM temp.bulk_requirements_task r JOIN temp.bulk_requirements m ON m.old = r.old WHERE r.subject = tasks.rowid)))
    WHERE rowid IN (SELECT subject FROM temp.bulk_requirements_task)`,
}

/** The history entries of the selected tasks, in chain order: the client's change, the retry, the queueing. */
const TASK_ENTRIES = {
  client: `SELECT subject, from_status, to_status, NULL AS reason FROM temp.bulk_task WHERE from_status IS NOT to_status`,
  retry: `
    SELECT subject, 'reset' AS from_status, retry_to AS to_status,
      CASE retry_to WHEN 'failed' THEN 'failures exceed max_failures' WHEN 'suspended' THEN 'dataset in debug mode' ELSE 'retry after reset' END AS reason
    FROM temp.bulk_task WHERE retry_to IS NOT NULL`,
  queued: `
    SELECT subject, 'waiting' AS from_status, 'queued' AS to_status,
      CASE WHEN has_depends THEN 'dependencies complete' ELSE 'no dependencies' END AS reason
    FROM temp.bulk_task WHERE final_status = 'queued' AND to_status IS NOT 'queued'`,
  follow: `SELECT subject, from_status, to_status, reason FROM temp.bulk_follow`,
}

export class BulkTransitions {
  private readonly sqlite: Database
  private readonly rollUp: RollUp
  /** Each statement prepared on first use. */
  private readonly statements = new Map<string, Statement>()

  constructor(
    db: Db,
    private readonly history: HistoryService,
    private readonly transitions: Transitions,
  ) {
    this.sqlite = db.$client
    this.rollUp = new RollUp(schedulerQueries(db), history, () => transitions.now())
    // Made now, outside any transaction: made inside one that is rolled back, they would be gone.
    for (const sql of SCRATCH) this.sqlite.run(sql)
  }

  /**
   * Inside the caller's write transaction: applies `action` to the selected
   * tasks of the dataset (see TaskSelection) and returns how many it changed.
   * 400, changing nothing, when an id is not a task (job) of the dataset.
   */
  changeTasks(selection: TaskSelection, action: BulkAction, by: Actor): number {
    this.clear()
    const datasetId = selection.datasetId
    const idsOf = selection.taskIds !== undefined ? 'tasks' : selection.jobIds !== undefined ? 'jobs' : undefined
    if (idsOf) this.checkIds(datasetId, idsOf, (idsOf === 'tasks' ? selection.taskIds : selection.jobIds)!)
    const to = action.kind === 'status' ? action.status : undefined
    const changed = this.statement(this.selectionSql(action, idsOf, selection.statuses, selection.name !== undefined))
      .run({ dataset_id: datasetId, name: selection.name ?? null, to: to ?? null } as never).changes
    if (changed === 0) return this.done(0)
    const scheduling = this.transitions.scheduling
    if (scheduling) {
      const retry = this.statement(SQL.datasetRetry).get({ dataset_id: datasetId }) as { maxFailures: unknown; debug: unknown } | null
      this.statement(SQL.scheduledFinal).run({ limit: this.transitions.failureLimit(retry?.maxFailures), debug: retry?.debug === 1 ? 1 : 0 })
    } else {
      this.statement(SQL.plainFinal).run()
    }
    const now = this.transitions.now()
    const reopened: Datasets = scheduling ? this.reopenJobs() : new Map()
    this.statement(action.kind === 'hard_reset' ? SQL.applyHardReset : SQL.apply).run({ now })
    this.history.recordSelected('task', TASK_ENTRIES.client, by)
    if (!scheduling) return this.done(changed)
    this.history.recordSelected('task', TASK_ENTRIES.retry, SERVER)
    this.history.recordSelected('task', TASK_ENTRIES.queued, SERVER)
    // Only a status change can take a task out of complete, or into it.
    if (action.kind === 'hard_reset' || (action.kind === 'status' && to !== 'complete')) this.statement(SQL.unqueueDependents).run()
    if (to === 'complete') this.statement(SQL.queueDependents).run()
    this.statement(SQL.applyFollow).run({ now })
    this.history.recordSelected('task', TASK_ENTRIES.follow, SERVER)
    this.rollUpJobs(reopened)
    return this.done(changed)
  }

  /**
   * Inside the caller's write transaction: `patch` merged into the
   * requirements (a key of the patch replaces that key) of every task of the
   * dataset with that name that is not complete; returns how many. 404 when
   * no task of the dataset has that name.
   */
  mergeRequirements(datasetId: string, name: string, patch: Record<string, unknown>): number {
    this.clear()
    if (!this.statement(SQL.nameExists).get({ dataset_id: datasetId, name })) fail(404, `no task named ${name} in dataset ${datasetId}`)
    const changed = this.statement(SQL.requirementsOfName).run({ dataset_id: datasetId, name }).changes
    if (changed === 0) return this.done(0)
    this.statement(SQL.distinctRequirements).run()
    // Tasks of one name share a few distinct requirements (raised ones differ): each is merged once.
    const pairs = (this.statement(SQL.oldRequirements).all() as { old: string }[]).map(({ old }) => [old, JSON.stringify({ ...(JSON.parse(old) as object), ...patch })])
    this.statement(SQL.newRequirements).run({ pairs: JSON.stringify(pairs) })
    this.statement(SQL.applyRequirements).run()
    return this.done(changed)
  }

  /** The SQL of the statements, for query-plan checks. */
  queriesForPlanCheck(): { name: string; sql: string }[] {
    const shapes: [string, BulkAction, 'tasks' | 'jobs' | undefined, string[] | undefined, boolean][] = [
      ['select all', { kind: 'hard_reset' }, undefined, undefined, false],
      ['select by status', { kind: 'reset' }, undefined, ['failed'], false],
      ['select by name', { kind: 'suspend' }, undefined, undefined, true],
      ['select by task ids', { kind: 'status', status: 'idle' }, 'tasks', ['waiting'], true],
      ['select by job ids', { kind: 'suspend' }, 'jobs', undefined, false],
    ]
    return [
      ...shapes.map(([name, action, ids, statuses, byName]) => ({ name: `bulk: ${name}`, sql: this.selectionSql(action, ids, statuses, byName) })),
      ...Object.entries(SQL).map(([name, sql]) => ({ name: `bulk: ${name}`, sql })),
    ]
  }

  /** 400 naming the first id that is not a task (job) of the dataset; the ids are left in `bulk_id`. */
  private checkIds(datasetId: string, of: 'tasks' | 'jobs', ids: readonly string[]): void {
    this.statement(SQL.fillIds).run({ ids: JSON.stringify(ids) })
    const foreign = this.statement(of === 'tasks' ? SQL.foreignTask : SQL.foreignJob).get({ dataset_id: datasetId }) as { id: string } | null
    if (foreign) fail(400, `${of === 'tasks' ? 'task' : 'job'} ${foreign.id} is not a ${of === 'tasks' ? 'task' : 'job'} of dataset ${datasetId}`)
  }

  /** The statement that fills `bulk_task` with the selected tasks the action changes. */
  private selectionSql(action: BulkAction, ids: 'tasks' | 'jobs' | undefined, statuses: readonly string[] | undefined, byName: boolean): string {
    const { to, changes } = ACTIONS[action.kind]
    // From the ids named (CROSS JOIN keeps that order), else along the dataset's (dataset_id, status) or (dataset_id) index.
    const source =
      ids === 'tasks' ? 'temp.bulk_id i CROSS JOIN tasks t ON t.task_id = i.id'
      : ids === 'jobs'
        ? `temp.bulk_id i CROSS JOIN jobs j ON j.job_id = i.id AND j.dataset_id = $dataset_id
           CROSS JOIN tasks t ON t.dataset_id = j.dataset_id AND t.job_index = j.job_index AND t.job_id = j.job_id`
        : 'tasks t'
    // The statuses were checked against the task statuses: they are written into the SQL as they are.
    const filters = [statuses ? `t.status IN (${list(statuses)})` : '', byName ? 't.name = $name' : ''].filter(Boolean)
    return `
      INSERT INTO temp.bulk_task (subject, task_id, job_id, from_status, to_status, failures, has_depends)
      SELECT t.rowid, t.task_id, t.job_id, t.status, ${to}, coalesce(json_extract(t.doc, '$.failures'), 0),
        EXISTS (SELECT 1 FROM task_depends d WHERE d.task_id = t.task_id)
      FROM ${source}
      WHERE t.dataset_id = $dataset_id AND ${changes}${filters.map((filter) => ` AND ${filter}`).join('')}`
  }

  /**
   * Before the tasks change: the stopped jobs that will have a task active
   * whatever follows (one the action sets queued, processing, idle or reset)
   * go back to processing at once, as RollUp.job will call for once that
   * task is active. Written before the tasks, the jobs' tasks then enter the
   * queue as a processing job's, rather than being marked so one by one
   * afterwards. Returns, per dataset, the jobs changed (see `rollUpListed`).
   */
  private reopenJobs(): Datasets {
    for (const sql of CLEAR_ROLLUP) this.statement(sql).run()
    this.statement(SQL.activeJobs).run()
    if (this.statement(SQL.reopenChanges).run().changes === 0) return new Map()
    return this.applyRollUpChanges()
  }

  /** The jobs whose tasks changed rolled up together, then their datasets (§6.5), those of jobs reopened before included. */
  private rollUpJobs(reopened: Datasets): void {
    for (const sql of CLEAR_ROLLUP) this.statement(sql).run()
    this.statement(SQL.touchedJobs).run()
    this.statement(SQL.followJobs).run()
    this.statement(SQL.downstreamJobs).run()
    const datasets = new Map(reopened)
    for (const [datasetId, jobs] of this.rollUpListed()) {
      const before = datasets.get(datasetId)
      datasets.set(datasetId, { reopened: jobs.reopened || !!before?.reopened, stopped: jobs.stopped || !!before?.stopped })
    }
    for (const [datasetId, jobs] of datasets) this.transitions.datasetFollowsJobs(datasetId, jobs)
  }

  /**
   * Rolls up every job listed in `temp.rollup_job` as RollUp.job would,
   * reading their states in one statement, writing the changes in one, and
   * their history entries in one.
   */
  private rollUpListed(): Datasets {
    const changes: [string, number, string, string, string, ServerReason][] = []
    for (const job of this.statement(SQL.rollUpStates).all() as JobState[]) {
      const to = this.rollUp.nextStatusOf(job)
      if (to) changes.push([job.job_id, job.rowid, job.dataset_id, job.status, to[0], to[1]])
    }
    if (changes.length === 0) return new Map()
    this.statement(SQL.saveRollUpChanges).run({ changes: JSON.stringify(changes) })
    return this.applyRollUpChanges()
  }

  /** The changes in `temp.rollup_change` written, with their history entries; per dataset, whether a job went back to processing and whether one left it. */
  private applyRollUpChanges(): Datasets {
    this.statement(SQL.applyRollUpChanges).run({ now: this.transitions.now() })
    this.history.recordSelected('job', 'SELECT subject, from_status, to_status, reason FROM temp.rollup_change', SERVER)
    const datasets: Datasets = new Map()
    for (const row of this.statement(SQL.changedDatasets).all() as { datasetId: string; reopened: number; stopped: number }[]) {
      datasets.set(row.datasetId, { reopened: row.reopened === 1, stopped: row.stopped === 1 })
    }
    return datasets
  }

  private statement(sql: string): Statement {
    let statement = this.statements.get(sql)
    if (!statement) {
      statement = this.sqlite.prepare(sql)
      this.statements.set(sql, statement)
    }
    return statement
  }

  /** Empties the scratch tables (the work they held is in the tables it changed). */
  private clear(): void {
    for (const sql of [...CLEAR, ...CLEAR_ROLLUP]) this.statement(sql).run()
  }

  private done(changed: number): number {
    this.clear()
    return changed
  }
}
