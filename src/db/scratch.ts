/**
 * The scratch tables the bulk actions stage their work in
 * (modules/scheduler/bulk.ts): TEMP tables, in memory (temp_store = MEMORY),
 * private to the connection, never in the database file, so not in schema.ts
 * and its migrations. SQLite finds an unqualified table name in the temp
 * schema first. openDatabase makes them with the connection, outside any
 * transaction: made inside one that is rolled back, they would be gone.
 */
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/** The ids a request names, each once. */
export const bulkIds = sqliteTable('bulk_id', {
  id: text('id').primaryKey(),
})

/**
 * The selected tasks the action changes: `subject` is the task's rowid (as
 * the history names it); `to_status` what the action sets, `retry_to` where
 * a task set reset moves on to (§6.3), `final_status` where it ends. The
 * queue action's tasks are of many datasets, hence `dataset_id`.
 */
export const bulkTasks = sqliteTable('bulk_task', {
  subject: integer('subject').primaryKey(),
  taskId: text('task_id').notNull(),
  jobId: text('job_id'),
  datasetId: text('dataset_id'),
  fromStatus: text('from_status'),
  toStatus: text('to_status'),
  failures: integer('failures'),
  hasDepends: integer('has_depends'),
  retryTo: text('retry_to'),
  finalStatus: text('final_status'),
})

/** The dependents that follow the changed tasks: queued again, or waiting again. */
export const bulkFollows = sqliteTable('bulk_follow', {
  subject: integer('subject').primaryKey(),
  jobId: text('job_id'),
  fromStatus: text('from_status'),
  toStatus: text('to_status'),
  reason: text('reason'),
})

/** A bulk_requirements merge: each distinct requirements text before and after, and the tasks it applies to. */
export const bulkRequirements = sqliteTable('bulk_requirements', {
  old: text('old').primaryKey(),
  new: text('new'),
})

export const bulkRequirementsTasks = sqliteTable('bulk_requirements_task', {
  subject: integer('subject').primaryKey(),
  old: text('old').notNull(),
})

/** The jobs a bulk action's roll-up looks at, and the changes it makes to them. */
export const rollupJobs = sqliteTable('rollup_job', {
  jobId: text('job_id').primaryKey(),
})

export const rollupChanges = sqliteTable('rollup_change', {
  jobId: text('job_id').primaryKey(),
  subject: integer('subject'),
  datasetId: text('dataset_id'),
  fromStatus: text('from_status'),
  toStatus: text('to_status'),
  reason: text('reason'),
})

/** How they are made (drizzle-kit makes no TEMP tables). */
export const SCRATCH_DDL = [
  'CREATE TEMP TABLE IF NOT EXISTS bulk_id (id TEXT PRIMARY KEY) WITHOUT ROWID',
  `CREATE TEMP TABLE IF NOT EXISTS bulk_task (subject INTEGER PRIMARY KEY, task_id TEXT NOT NULL, job_id TEXT, dataset_id TEXT,
    from_status TEXT, to_status TEXT, failures INTEGER, has_depends INTEGER, retry_to TEXT, final_status TEXT)`,
  'CREATE TEMP TABLE IF NOT EXISTS bulk_follow (subject INTEGER PRIMARY KEY, job_id TEXT, from_status TEXT, to_status TEXT, reason TEXT)',
  'CREATE TEMP TABLE IF NOT EXISTS bulk_requirements (old TEXT PRIMARY KEY, new TEXT) WITHOUT ROWID',
  'CREATE TEMP TABLE IF NOT EXISTS bulk_requirements_task (subject INTEGER PRIMARY KEY, old TEXT NOT NULL)',
  'CREATE TEMP TABLE IF NOT EXISTS rollup_job (job_id TEXT PRIMARY KEY) WITHOUT ROWID',
  `CREATE TEMP TABLE IF NOT EXISTS rollup_change (job_id TEXT PRIMARY KEY, subject INTEGER, dataset_id TEXT,
    from_status TEXT, to_status TEXT, reason TEXT) WITHOUT ROWID`,
]
