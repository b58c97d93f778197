/**
 * Storage pattern: every resource is one JSON document in `doc`, the single
 * source of truth, returned to clients as stored. The columns that are filtered,
 * grouped or joined on are STORED generated columns extracted from `doc` by
 * SQLite itself, so they can never disagree with the document and updates are
 * a single `json_set` on `doc`. Creation order is the table's rowid.
 */
import { sql, type SQL } from 'drizzle-orm'
import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

/** A generated column holding `doc.<field>`. */
const fromDoc = (field: string): SQL => sql.raw(`json_extract(doc, '$.${field}')`)
const stored = { mode: 'stored' } as const
/** Computed when read, never stored: only an index on it keeps its values. */
const virtual = { mode: 'virtual' } as const
const docColumn = () => text('doc').notNull()

/** Named monotonic counters (e.g. the dataset sequence number, never reused). */
export const sequences = sqliteTable('sequences', {
  name: text('name').primaryKey(),
  value: integer('value').notNull(),
})

export const roles = sqliteTable('roles', {
  name: text('name').primaryKey(),
  doc: docColumn(),
})

export const groups = sqliteTable('groups', {
  groupId: text('group_id').primaryKey(),
  name: text('name').generatedAlwaysAs(fromDoc('name'), stored),
  doc: docColumn(),
}, (t) => [uniqueIndex('groups_name').on(t.name)])

export const users = sqliteTable('users', {
  userId: text('user_id').primaryKey(),
  username: text('username').generatedAlwaysAs(fromDoc('username'), stored),
  doc: docColumn(),
}, (t) => [uniqueIndex('users_username').on(t.username)])

export const datasets = sqliteTable('datasets', {
  datasetId: text('dataset_id').primaryKey(),
  dataset: integer('dataset').generatedAlwaysAs(fromDoc('dataset'), stored),
  status: text('status').generatedAlwaysAs(fromDoc('status'), stored),
  priority: real('priority').generatedAlwaysAs(sql.raw(`coalesce(json_extract(doc, '$.priority'), 0)`), stored),
  doc: docColumn(),
}, (t) => [uniqueIndex('datasets_dataset').on(t.dataset), index('datasets_status').on(t.status)])

/** Dataset access rules: doc is `{read_groups: [...], write_groups: [...]}`. */
export const auths = sqliteTable('auths', {
  datasetId: text('dataset_id').primaryKey(),
  doc: docColumn(),
})

export const configs = sqliteTable('configs', {
  datasetId: text('dataset_id').primaryKey(),
  doc: docColumn(),
})

export const jobs = sqliteTable('jobs', {
  jobId: text('job_id').primaryKey(),
  datasetId: text('dataset_id').generatedAlwaysAs(fromDoc('dataset_id'), stored),
  jobIndex: integer('job_index').generatedAlwaysAs(fromDoc('job_index'), stored),
  status: text('status').generatedAlwaysAs(fromDoc('status'), stored),
  doc: docColumn(),
}, (t) => [
  uniqueIndex('jobs_dataset_job_index').on(t.datasetId, t.jobIndex),
  index('jobs_dataset_status').on(t.datasetId, t.status),
])

export const tasks = sqliteTable('tasks', {
  taskId: text('task_id').primaryKey(),
  datasetId: text('dataset_id').generatedAlwaysAs(fromDoc('dataset_id'), stored),
  jobId: text('job_id').generatedAlwaysAs(fromDoc('job_id'), stored),
  jobIndex: integer('job_index').generatedAlwaysAs(fromDoc('job_index'), stored),
  taskIndex: integer('task_index').generatedAlwaysAs(fromDoc('task_index'), stored),
  name: text('name').generatedAlwaysAs(fromDoc('name'), stored),
  status: text('status').generatedAlwaysAs(fromDoc('status'), stored),
  gridId: text('grid_id').generatedAlwaysAs(fromDoc('grid_id'), stored),
  doc: docColumn(),
}, (t) => [
  // Entries for one dataset are in rowid (creation) order: lists stream without sorting.
  // A job's tasks are found by (dataset_id, job_index), which a job's id
  // names through the jobs table: an index on job_id would be one more
  // random-position write for every task created.
  index('tasks_dataset').on(t.datasetId),
  index('tasks_dataset_status').on(t.datasetId, t.status),
  index('tasks_dataset_job_index').on(t.datasetId, t.jobIndex),
  index('tasks_dataset_grid').on(t.datasetId, t.gridId).where(sql`grid_id IS NOT NULL`),
  index('tasks_status').on(t.status),
])

/**
 * The processing tasks by when they started (their `status_changed`), kept by
 * triggers on `tasks` (see the scheduler triggers migration), for the
 * scheduler's sweep of lost tasks (§6.4): its key is the whole row, so the
 * sweep reads old processing tasks from the index alone, going on after the
 * last one it saw. (An index on the tasks themselves could not serve: SQLite
 * reads the task row for a generated column's value even when an index has it.)
 */
export const processingSince = sqliteTable('processing_since', {
  since: text('since').notNull(),
  taskId: text('task_id').notNull(),
}, (t) => [primaryKey({ columns: [t.since, t.taskId] })])

/**
 * A task's `depends` list, one row per dependency, for the queue's readiness
 * check; and the other way round (`depends_on`), the tasks that wait for a task.
 */
export const taskDepends = sqliteTable('task_depends', {
  taskId: text('task_id').notNull(),
  dependsOn: text('depends_on').notNull(),
}, (t) => [primaryKey({ columns: [t.taskId, t.dependsOn] }), index('task_depends_on').on(t.dependsOn)])

/**
 * The queued tasks pilots claim from, with the numeric requirements split into
 * indexed-order columns so that a claim walks (priority, seq), or with the
 * scheduler one dataset's (dataset_id, seq), and filters on columns.
 * `requirements` keeps the full object for the non-numeric keys.
 * Rows are written only by triggers on `tasks` (see the task_queue migrations):
 * the table holds exactly the tasks whose status is `queued`.
 */
export const taskQueue = sqliteTable('task_queue', {
  taskId: text('task_id').primaryKey(),
  /** The task's dataset by its rowid, for the scheduler's claims, which walk one dataset's queued tasks at a time. */
  dataset: integer('dataset'),
  /** 1 while the task's job is `processing`: the scheduler hands out only those (triggers on tasks and jobs keep it). */
  jobActive: integer('job_active').notNull().default(0),
  priority: real('priority').notNull(),
  seq: integer('seq').notNull(),
  cpu: real('cpu'),
  gpu: real('gpu'),
  memory: real('memory'),
  disk: real('disk'),
  time: real('time'),
  /** 1 when the task states requirements beyond the numeric columns above. */
  hasOther: integer('has_other').notNull(),
  requirements: text('requirements').notNull(),
}, (t) => [
  // Covering the claim: the numeric conditions are tested on index entries in
  // claim order, and the table row is read only for a task that is taken.
  index('task_queue_claim').on(sql`priority DESC`, t.seq, t.cpu, t.gpu, t.memory, t.disk, t.time, t.hasOther, t.taskId),
  // The same within one dataset's tasks of processing jobs, for the scheduler's fair share (§6.2).
  index('task_queue_active_claim').on(t.dataset, t.jobActive, t.seq, t.cpu, t.gpu, t.memory, t.disk, t.time, t.hasOther, t.taskId),
])

/**
 * Per-dataset status counts, maintained by triggers (see the counters
 * migration). By status, they name the datasets with queued tasks for the
 * scheduler's claims; a count changing leaves that index untouched.
 */
export const taskCounts = sqliteTable('task_counts', {
  datasetId: text('dataset_id').notNull(),
  status: text('status').notNull(),
  n: integer('n').notNull(),
}, (t) => [primaryKey({ columns: [t.datasetId, t.status] }), index('task_counts_status').on(t.status, t.datasetId)])

/**
 * Each job's task counts by status, one row per job, maintained by triggers
 * (see the job_task_counts migration): the scheduler rolls a job up from its
 * row without reading the job's tasks.
 */
export const jobTaskCounts = sqliteTable('job_task_counts', {
  jobId: text('job_id').primaryKey(),
  idle: integer('idle').notNull().default(0),
  waiting: integer('waiting').notNull().default(0),
  queued: integer('queued').notNull().default(0),
  processing: integer('processing').notNull().default(0),
  reset: integer('reset').notNull().default(0),
  suspended: integer('suspended').notNull().default(0),
  failed: integer('failed').notNull().default(0),
  complete: integer('complete').notNull().default(0),
})

export const jobCounts = sqliteTable('job_counts', {
  datasetId: text('dataset_id').notNull(),
  status: text('status').notNull(),
  n: integer('n').notNull(),
}, (t) => [primaryKey({ columns: [t.datasetId, t.status] })])

export const taskStats = sqliteTable('task_stats', {
  taskStatId: text('task_stat_id').primaryKey(),
  taskId: text('task_id').generatedAlwaysAs(fromDoc('task_id'), stored),
  datasetId: text('dataset_id').generatedAlwaysAs(fromDoc('dataset_id'), stored),
  doc: docColumn(),
}, (t) => [index('task_stats_task').on(t.taskId)])

/**
 * Logs keep their metadata document in `doc` and the (possibly large) `data`
 * string apart in `data`, compressed when `encoding` says so.
 */
export const logs = sqliteTable('logs', {
  logId: text('log_id').primaryKey(),
  datasetId: text('dataset_id').generatedAlwaysAs(fromDoc('dataset_id'), stored),
  taskId: text('task_id').generatedAlwaysAs(fromDoc('task_id'), stored),
  name: text('name').generatedAlwaysAs(fromDoc('name'), stored),
  encoding: text('encoding').notNull(),
  /** UTF-8 bytes of the log text, compressed per `encoding` ('identity' | 'gzip'). */
  data: blob('data', { mode: 'buffer' }).notNull(),
  doc: docColumn(),
}, (t) => [index('logs_dataset_task').on(t.datasetId, t.taskId)])

export const grids = sqliteTable('grids', {
  gridId: text('grid_id').primaryKey(),
  doc: docColumn(),
})

export const pilots = sqliteTable('pilots', {
  pilotId: text('pilot_id').primaryKey(),
  gridId: text('grid_id').generatedAlwaysAs(fromDoc('grid_id'), stored),
  doc: docColumn(),
  lastUpdate: text('last_update').generatedAlwaysAs(fromDoc('last_update'), virtual),
}, (t) => [
  index('pilots_grid').on(t.gridId),
  // By when they were last heard of, for the scheduler's pilot timeout (§6.4).
  index('pilots_last_update').on(t.lastUpdate),
])

/**
 * Every pilot's `tasks` list, one row per listed task, mirrored by triggers
 * whatever route wrote the pilot (see the pilot_tasks migration): whether
 * any pilot lists a task is one index lookup.
 */
export const pilotTasks = sqliteTable('pilot_tasks', {
  taskId: text('task_id').notNull(),
  pilotId: text('pilot_id').notNull(),
}, (t) => [primaryKey({ columns: [t.taskId, t.pilotId] }), index('pilot_tasks_pilot').on(t.pilotId)])

/**
 * Status history (API.md §7.1): one compact row per status change of a
 * dataset, job or task, in `entry` order. The subject is the resource's rowid
 * (its creation order, never reused while it exists); statuses are their
 * position in the resource's status list (src/status.ts); `time` is
 * microseconds since the epoch; a null `username` and `role` mean the server,
 * whose reasons are codes (src/modules/history/reasons.ts) where a client's
 * reason is its own text. A subject's history is one range of the index.
 */
export const statusHistory = sqliteTable('status_history', {
  entry: integer('entry').primaryKey(),
  /** 0 dataset, 1 job, 2 task. */
  kind: integer('kind').notNull(),
  subject: integer('subject').notNull(),
  time: integer('time').notNull(),
  fromStatus: integer('from_status').notNull(),
  toStatus: integer('to_status').notNull(),
  username: text('username'),
  role: text('role'),
  reasonCode: integer('reason_code'),
  reason: text('reason'),
}, (t) => [index('status_history_subject').on(t.kind, t.subject)])

/**
 * Where the scheduler's materialization (API.md §6.1) of each dataset goes
 * on: the next job_index to consider, written in the transaction that makes
 * the jobs before it, so that a restart resumes there.
 */
export const materialization = sqliteTable('materialization', {
  datasetId: text('dataset_id').primaryKey(),
  nextIndex: integer('next_index').notNull(),
})

/**
 * How many status changes the scheduler made, by resource kind (as in
 * status_history), new status and reason: counted by a trigger on every
 * server entry of the history, in its transaction, for /metrics.
 */
export const schedulerChanges = sqliteTable('scheduler_changes', {
  kind: integer('kind').notNull(),
  toStatus: integer('to_status').notNull(),
  reasonCode: integer('reason_code').notNull(),
  n: integer('n').notNull(),
}, (t) => [primaryKey({ columns: [t.kind, t.toStatus, t.reasonCode] })])

/**
 * Task completions by dataset and minute, for progress (API.md §7.3): a
 * trigger counts each task that becomes complete under the minute of its
 * `status_changed`, in one of 60 slots per dataset (minute mod 60), so the
 * last hour's completions are at most 60 rows and old minutes are
 * overwritten rather than deleted (see the progress migration).
 */
export const taskCompletions = sqliteTable('task_completions', {
  datasetId: text('dataset_id').notNull(),
  slot: integer('slot').notNull(),
  /** Minutes since the epoch. */
  minute: integer('minute').notNull(),
  n: integer('n').notNull(),
}, (t) => [primaryKey({ columns: [t.datasetId, t.slot] })])

/**
 * Holds a row only while a bulk action's one UPDATE of its selected tasks
 * runs, inside the action's transaction (so no other connection ever sees
 * it, and a crash leaves it empty): the triggers that keep task_counts and
 * job_task_counts, and the one that mirrors `depends`, then skip each row,
 * and the action updates those counts with one set-based statement each
 * (scheduler/queries.ts, bulkQueries). See the bulk counts migration.
 */
export const bulkUpdate = sqliteTable('bulk_update', {
  active: integer('active').primaryKey(),
})
