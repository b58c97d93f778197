/**
 * Checks of a dataset the scheduler runs, read straight from the database in
 * one synchronous read (one consistent moment): statuses against the roll-up
 * rules, written here independently of the server, and the maintained counts
 * against a recount.
 */
import type { Database } from 'bun:sqlite'
import { expect } from 'bun:test'

export interface TaskRow {
  task_id: string
  job_id: string
  name: string
  status: string
  depends: string
  failures: number
  evictions: number
}

export const tasksOf = (sqlite: Database, datasetId: string) =>
  sqlite
    .query(`SELECT task_id, job_id, name, status, json_extract(doc, '$.depends') AS depends, json_extract(doc, '$.failures') AS failures, json_extract(doc, '$.evictions') AS evictions FROM tasks WHERE dataset_id = ?`)
    .all(datasetId) as TaskRow[]

/** What the roll-up reads of a task: the dependencies only of a waiting task, the one status they decide. */
type RollUpRow = Pick<TaskRow, 'task_id' | 'job_id' | 'status'> & { depends: string | null }

/** Statuses that keep a job processing by themselves. */
const ACTIVE = new Set(['idle', 'queued', 'processing', 'reset'])

/**
 * Every job's status is what its tasks call for (API.md §6.5, written here
 * independently of the server), and the dataset's what its jobs call for.
 */
export function checkRollUp(sqlite: Database, datasetId: string, jobsSubmitted: number): void {
  const tasks = sqlite
    .query(`SELECT task_id, job_id, status, CASE status WHEN 'waiting' THEN json_extract(doc, '$.depends') END AS depends FROM tasks WHERE dataset_id = ?`)
    .all(datasetId) as RollUpRow[]
  const byId = new Map(tasks.map((task) => [task.task_id, task]))
  const blockedBy = (task: RollUpRow, seen?: Set<string>): string | null => {
    let block: string | null = null
    for (const id of JSON.parse(task.depends!) as string[]) {
      const upstream = byId.get(id)
      if (!upstream || seen?.has(id)) continue
      if (upstream.status === 'failed') return 'failed'
      if (upstream.status === 'suspended') block = 'suspended'
      if (upstream.status === 'waiting') {
        const above = blockedBy(upstream, new Set(seen).add(id))
        if (above === 'failed') return 'failed'
        block ??= above
      }
    }
    return block
  }
  const byJob = new Map<string, RollUpRow[]>()
  for (const task of tasks) {
    const mine = byJob.get(task.job_id)
    if (mine) mine.push(task)
    else byJob.set(task.job_id, [task])
  }
  const jobs = sqlite.query('SELECT job_id, status FROM jobs WHERE dataset_id = ?').all(datasetId) as { job_id: string; status: string }[]
  // Every job whose status is not the expected one, checked at once: one expect per job costs more than the check on a large dataset.
  const wrong: { job: string; status: string; expected: string }[] = []
  for (const job of jobs) {
    const mine = byJob.get(job.job_id) ?? []
    const blocks = mine.map((task) => (task.status === 'waiting' ? blockedBy(task) : null))
    const active = mine.some((task, i) => ACTIVE.has(task.status) || (task.status === 'waiting' && blocks[i] === null))
    const expected =
      mine.every((task) => task.status === 'complete') ? 'complete'
      : active ? 'processing'
      : mine.some((task, i) => task.status === 'failed' || blocks[i] === 'failed') ? 'errors'
      : 'suspended'
    if (job.status !== expected) wrong.push({ job: job.job_id, status: job.status, expected })
  }
  expect(wrong).toEqual([])
  const dataset = sqlite.query('SELECT status FROM datasets WHERE dataset_id = ?').get(datasetId) as { status: string }
  const statuses = jobs.map((job) => job.status)
  const expectedDataset =
    jobs.length < jobsSubmitted ? 'processing'
    : statuses.every((s) => s === 'complete') ? 'complete'
    : statuses.includes('processing') ? 'processing'
    : statuses.includes('errors') ? 'errors'
    : 'suspended'
  expect({ dataset: dataset.status }).toEqual({ dataset: expectedDataset })
}

/**
 * The maintained counts equal a recount of the tasks and jobs: of one
 * dataset, or of every dataset at once when none is named.
 */
export function checkCounts(sqlite: Database, datasetId?: string): void {
  const scope = (column: string) => (datasetId === undefined ? 'true' : `${column} = ?1`)
  const all = (text: string) => (datasetId === undefined ? sqlite.query(text).all() : sqlite.query(text).all(datasetId))
  const recount = (table: string) => all(`SELECT dataset_id, status, count(*) AS n FROM ${table} WHERE ${scope('dataset_id')} GROUP BY dataset_id, status ORDER BY dataset_id, status`)
  const maintained = (table: string) => all(`SELECT dataset_id, status, n FROM ${table} WHERE ${scope('dataset_id')} AND n > 0 ORDER BY dataset_id, status`)
  expect(maintained('task_counts')).toEqual(recount('tasks'))
  expect(maintained('job_counts')).toEqual(recount('jobs'))
  const statuses = ['idle', 'waiting', 'queued', 'processing', 'reset', 'suspended', 'failed', 'complete']
  const columns = statuses.map((s) => `c."${s}"`).join(', ')
  expect(all(`SELECT c.job_id, ${columns} FROM job_task_counts c JOIN jobs j ON j.job_id = c.job_id WHERE ${scope('j.dataset_id')} ORDER BY c.job_id`)).toEqual(
    all(`SELECT job_id, ${statuses.map((s) => `sum(status IS '${s}') AS "${s}"`).join(', ')} FROM tasks WHERE ${scope('dataset_id')} GROUP BY job_id ORDER BY job_id`),
  )
  expect(all(`SELECT count(*) AS n FROM task_queue q JOIN tasks t ON t.task_id = q.task_id WHERE ${scope('t.dataset_id')}`)).toEqual(
    all(`SELECT count(*) AS n FROM tasks WHERE ${scope('dataset_id')} AND status = 'queued'`),
  )
  // A queue row is marked active exactly while its task's job is processing.
  expect(
    all(`SELECT q.task_id, q.job_active FROM task_queue q JOIN tasks t ON t.task_id = q.task_id LEFT JOIN jobs j ON j.job_id = t.job_id
      WHERE ${scope('t.dataset_id')} AND q.job_active IS NOT coalesce(j.status = 'processing', 0)`),
  ).toEqual([])
  // Outside a bulk action's update of its tasks, the count triggers count every change.
  expect(sqlite.query('SELECT count(*) AS n FROM bulk_update').get()).toEqual({ n: 0 })
}
