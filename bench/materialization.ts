/**
 * Scheduler target — materialization: a dataset of 1,000 jobs whose config
 * has 10 tasks gets its 10,000 tasks from the server itself (ICEPROD_SCHEDULER
 * on); ≥ 20,000 tasks/s, from the PUT of the config to the last task made.
 * Against the same server with the scheduler off in the same run, where a
 * client makes them as IceProd's buffer_jobs_tasks does: POST /jobs, then one
 * POST /tasks per task, from 16 concurrent loops.
 *
 * Each run starts on a new database. While the server materializes, a client
 * sends one GET /datasets/<d> at a time: its slowest answer shows how long a
 * request waited behind the work (which runs in the background, in short
 * transactions). Afterwards every job must have its 10 tasks, each job_index
 * once. Usage: bun bench/materialization.ts [--quick] [--rounds N]
 */
import { Database } from 'bun:sqlite'
import { parseArgs } from 'node:util'
import { alternate } from './lib/ab'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, percentile, printResult, report } from './lib/report'
import { tempDir } from './lib/seed'
import { startProject, stopTracked, token, tracked, type Proc } from './lib/servers'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' } } })
const JOBS = values.quick ? 200 : 1000
const TASKS_PER_JOB = 10
const ROUNDS = Number(values.rounds ?? (values.quick ? 1 : 3))
const GOAL = 20_000
/** generate, then nine tasks that depend on it or on the task before them, by name and by index. */
const CONFIG = {
  tasks: Array.from({ length: TASKS_PER_JOB }, (_, i) => ({
    name: i === 0 ? 'generate' : `step${i}`,
    depends: i === 0 ? [] : i % 2 ? ['generate'] : [i - 1],
    requirements: { memory: 2 + i },
  })),
}
const { dir, cleanup } = tempDir('materialization')

interface Run {
  tasksPerSecond: number
  /** The slowest answer to a request sent while the tasks were being made (on only). */
  slowestMs?: number
  p99Ms?: number
}

async function call(proc: Proc, bearer: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(proc.url + path, { method, headers: { authorization: `Bearer ${bearer}` }, body: body === undefined ? undefined : JSON.stringify(body) })
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`)
  return r.json()
}

async function newDataset(proc: Proc, bearer: string): Promise<string> {
  await call(proc, bearer, 'POST', '/groups', { name: '/bench' })
  const created = await call(proc, bearer, 'POST', '/datasets', { description: 'materialization', jobs_submitted: JOBS, tasks_submitted: JOBS * TASKS_PER_JOB, group: '/bench' })
  return (created.result as string).split('/')[2]!
}

/** Every job has its tasks, each job_index is made once. */
function check(db: string, datasetId: string): void {
  const sqlite = new Database(db, { readonly: true })
  try {
    const jobs = sqlite.query<{ n: number; indexes: number }, [string]>('SELECT count(*) AS n, count(DISTINCT job_index) AS indexes FROM jobs WHERE dataset_id = ?').get(datasetId)!
    const tasks = sqlite.query<{ n: number }, [string]>('SELECT count(*) AS n FROM tasks WHERE dataset_id = ?').get(datasetId)!.n
    if (jobs.n !== JOBS || jobs.indexes !== JOBS || tasks !== JOBS * TASKS_PER_JOB) throw new Error(`${jobs.n} jobs (${jobs.indexes} indexes), ${tasks} tasks`)
  } finally {
    sqlite.close()
  }
}

async function scheduled(round: number): Promise<Run> {
  const db = `${dir}/on-${round}.sqlite`
  const bearer = token(db, 'admin')
  const proc = await tracked(startProject(db, { ICEPROD_SCHEDULER: 'on' }))
  const datasetId = await newDataset(proc, bearer)
  const total = async () => Object.values((await call(proc, bearer, 'GET', `/datasets/${datasetId}/task_counts/status`)) as Record<string, number>).reduce((a, b) => a + b, 0)
  const latencies: number[] = []
  const started = performance.now()
  await call(proc, bearer, 'PUT', `/datasets/${datasetId}/config`, CONFIG)
  // The probe doubles as the clock: one request at a time until every task exists.
  for (;;) {
    const sent = performance.now()
    const made = await total()
    latencies.push(performance.now() - sent)
    if (made >= JOBS * TASKS_PER_JOB) break
  }
  const seconds = (performance.now() - started) / 1000
  await proc.stop()
  check(db, datasetId)
  const run = { tasksPerSecond: (JOBS * TASKS_PER_JOB) / seconds, slowestMs: Math.max(...latencies), p99Ms: percentile(latencies, 99) }
  console.log(`  on:  ${fmt(run.tasksPerSecond)} tasks/s (${fmt(seconds * 1000)} ms); requests meanwhile: ${latencies.length}, slowest ${fmt(run.slowestMs)} ms`)
  return run
}

async function byClients(round: number): Promise<Run> {
  const db = `${dir}/off-${round}.sqlite`
  const bearer = token(db, 'admin')
  const proc = await tracked(startProject(db, { ICEPROD_SCHEDULER: 'off' }))
  const datasetId = await newDataset(proc, bearer)
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let jobIndex = next++; jobIndex < JOBS; jobIndex = next++) {
        const jobId = (await call(proc, bearer, 'POST', '/jobs', { dataset_id: datasetId, job_index: jobIndex })).result as string
        const ids: string[] = []
        for (const [taskIndex, task] of CONFIG.tasks.entries()) {
          const depends = task.depends.map((d) => ids[typeof d === 'number' ? d : 0]!)
          const body = { dataset_id: datasetId, job_id: jobId, task_index: taskIndex, name: task.name, depends, requirements: task.requirements }
          ids.push((await call(proc, bearer, 'POST', '/tasks', body)).result as string)
        }
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  await proc.stop()
  check(db, datasetId)
  const run = { tasksPerSecond: (JOBS * TASKS_PER_JOB) / seconds }
  console.log(`  off: ${fmt(run.tasksPerSecond)} tasks/s (${fmt(seconds * 1000)} ms) made by 16 clients`)
  return run
}

const cpu = cpuShare()
try {
  const { on, off } = await alternate(ROUNDS, ['off', 'on'] as const, (mode, round) => (mode === 'off' ? byClients(round) : scheduled(round)))
  const rate = median(on.map((r) => r.tasksPerSecond))
  const offRate = median(off.map((r) => r.tasksPerSecond))
  printCpuShare(cpu.stop())
  report(`materialization of ${JOBS} jobs × ${TASKS_PER_JOB} tasks`, {
    'on tasks/s (median)': rate,
    'on runs': on.map((r) => Math.round(r.tasksPerSecond)).join(' '),
    'off tasks/s, by 16 clients (median)': offRate,
    'off runs': off.map((r) => Math.round(r.tasksPerSecond)).join(' '),
    'on / off': rate / offRate,
    'slowest request meanwhile, ms (each run)': on.map((r) => fmt(r.slowestMs!)).join(' '),
    result: rate >= GOAL ? 'MET' : 'NOT MET',
  })
  printResult({ target: 'materialization', figure: `${fmt(rate)} tasks/s; slowest request meanwhile ${fmt(median(on.map((r) => r.slowestMs!)))} ms`, goal: `>= ${GOAL} tasks/s`, met: rate >= GOAL, baseline: `${fmt(offRate)} tasks/s by 16 clients, scheduler off` })
} finally {
  await stopTracked()
  cleanup()
}
