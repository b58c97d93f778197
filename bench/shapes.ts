/**
 * The seeded databases the targets share, built once and cached (see
 * seedCached in lib.ts): the claims, counts and big-list targets all read the
 * same one-dataset database, so a full `bun run bench` seeds it only once.
 */
import { seedCached, type CachedSeed } from './lib/seed'

/**
 * One dataset of 1M tasks (10,000 jobs of 100 tasks), or 200k with `quick`.
 * Task statuses by index: 10% queued (the claims target's 100k), 40% waiting,
 * 20% complete, 10% failed, 10% suspended, 5% reset, 5% idle; no task is
 * processing, so every processing task after a claims run was claimed by it.
 * Jobs: 10% each complete, failed, errors and suspended, the rest processing.
 */
export function oneBigDataset(quick: boolean): CachedSeed {
  return seedCached(
    quick ? 'one-dataset-200k' : 'one-dataset-1m',
    { datasets: 1, jobsPerDataset: quick ? 2_000 : 10_000, tasksPerJob: 100, status: bigDatasetStatus },
    // Job statuses change through the job_counts triggers, like an API update would.
    (sqlite) => {
      sqlite.run(`UPDATE jobs SET doc = json_set(doc, '$.status',
        CASE job_index % 10 WHEN 0 THEN 'complete' WHEN 1 THEN 'failed' WHEN 2 THEN 'errors' ELSE 'suspended' END)
        WHERE job_index % 10 < 4`)
    },
  )
}

/** The task statuses of oneBigDataset and oneActiveDataset, by task index. */
function bigDatasetStatus(i: number): string {
  const r = i % 10
  if (r === 0) return 'queued'
  if (r <= 4) return 'waiting'
  if (r <= 6) return 'complete'
  if (r === 7) return 'failed'
  if (r === 8) return 'suspended'
  return i % 20 === 9 ? 'reset' : 'idle'
}

/** Queued tasks in `oneBigDataset(quick)`. */
export const queuedIn = (quick: boolean) => (quick ? 20_000 : 100_000)

/**
 * The scheduler's claims target (bench/scheduler-claims.ts): one dataset of
 * 1M tasks (200k with `quick`) as in oneBigDataset, but every job processing,
 * so that the scheduler may hand out each of its 100k (20k) queued tasks as
 * the queue without the scheduler does. Laid out as the server in `mode`
 * makes its tasks: with the scheduler on, each carries an instance_id from
 * its creation; off, none.
 */
export function oneActiveDataset(quick: boolean, mode: 'on' | 'off'): CachedSeed {
  return seedCached(`${quick ? 'one-active-dataset-200k' : 'one-active-dataset-1m'}-${mode}`, {
    datasets: 1,
    jobsPerDataset: quick ? 2_000 : 10_000,
    tasksPerJob: 100,
    status: bigDatasetStatus,
    birthInstanceIds: mode === 'on',
  })
}

/**
 * The completions target (bench/completions.ts): one dataset of 200,000 jobs
 * (20,000 with `quick`) of two tasks. Every first task is processing; in even
 * jobs the second waits for it (completing the first queues it), in odd jobs
 * the second is complete already (completing the first completes the job).
 */
export function pairsDataset(quick: boolean): CachedSeed {
  return seedCached(
    quick ? 'pairs-40k' : 'pairs-400k',
    {
      datasets: 1,
      jobsPerDataset: quick ? 20_000 : 200_000,
      tasksPerJob: 2,
      status: (i) => (i % 2 === 0 ? 'processing' : Math.floor(i / 2) % 2 === 0 ? 'waiting' : 'complete'),
    },
    // Through the tasks triggers, as an API update would: task_depends follows.
    (sqlite) => {
      sqlite.run(`UPDATE tasks SET doc = json_set(doc, '$.depends', json_array(
        (SELECT p.task_id FROM tasks p WHERE p.dataset_id = tasks.dataset_id AND p.job_index = tasks.job_index AND p.task_index = 0)))
        WHERE status = 'waiting'`)
    },
  )
}

/**
 * One dataset whose every task failed: `jobs` jobs of `tasksPerJob` tasks,
 * the jobs in errors and the dataset stopped in errors by the roll-up (its
 * history says so), as a dataset looks before an operator's bulk reset.
 */
export function failedDataset(jobs: number, tasksPerJob: number): CachedSeed {
  return seedCached(
    `failed-${jobs}-jobs-of-${tasksPerJob}`,
    { datasets: 1, jobsPerDataset: jobs, tasksPerJob, status: () => 'failed' },
    (sqlite) => {
      sqlite.run(`UPDATE jobs SET doc = json_set(doc, '$.status', 'errors')`)
      sqlite.run(`UPDATE datasets SET doc = json_set(doc, '$.status', 'errors')`)
      // processing (0) → errors (2) by the server, reason 'jobs have errors, none processing' (11).
      sqlite.run(`INSERT INTO status_history (kind, subject, time, from_status, to_status, reason_code) SELECT 0, rowid, 0, 0, 2, 11 FROM datasets`)
    },
  )
}
