/**
 * Target 5 — creation: single POST /tasks (one task per request) from 16
 * concurrent clients into existing jobs of a dataset that already holds 1M
 * tasks; >= 8,000 tasks/s.
 *
 * Two load generators, each against the project and the raw baseline
 * (bench/baseline-server.ts: one INSERT and one commit per task):
 * - wrk -t1 -c16 with a Lua script giving every request its own task_index
 *   (a counter, unique because there is one wrk thread) and cycling over the
 *   dataset's jobs; A/B/A/B, medians: the creation rate. Checked from the
 *   database afterwards: the new tasks are the 201s wrk counted plus at most
 *   the 16 requests in flight when it stopped, each in its job with the job's
 *   job_index, and the maintained counts equal a recount.
 * - 16 keep-alive fetch loops in Bun, once each: every returned task_id must
 *   be unique, and the new tasks in the database must be exactly those ids.
 * Every run starts from a fresh copy of the seeded database.
 * Usage: bun bench/creation.ts [--quick] [--seconds N] [--rounds N]
 */
import { Database } from 'bun:sqlite'
import { abWrkLines, alternate, fetchLoops, loadRunOptions, printedWrkRound, SIDES, type RateRun, type Side } from './lib/ab'
import { countsMatchRecount } from './lib/counts'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, removeDatabase, tempDir } from './lib/seed'
import { startSide, stopTracked, token } from './lib/servers'
import { requireWrk, wrkRun } from './lib/wrk'
import { oneBigDataset } from './shapes'

requireWrk()

const { quick, seconds, rounds, connections } = loadRunOptions(16)
const TARGET = 8000
/** The name of every task this benchmark creates; the seeded ones are named generate or filter. */
const NAME = 'bench-created'
/** Seeded task_index values are below 100; created ones start here. */
const FIRST_INDEX = 1000

const seeded = oneBigDataset(quick)
const datasetId = seeded.datasetIds[0]!
const bearer = token(seeded.path, 'client')
const { dir, cleanup } = tempDir('creation')

const jobIds = (() => {
  const sqlite = new Database(seeded.path, { readonly: true })
  try {
    return sqlite.query<{ job_id: string }, [string]>('SELECT job_id FROM jobs WHERE dataset_id = ? ORDER BY rowid LIMIT 1000').all(datasetId).map((r) => r.job_id)
  } finally {
    sqlite.close()
  }
})()

const taskBody = (jobId: string, taskIndex: number) =>
  JSON.stringify({ dataset_id: datasetId, job_id: jobId, task_index: taskIndex, name: NAME, depends: [], requirements: { cpu: 1, memory: 1.5 } })

const wrkScript = `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${bearer}"
local jobs = {${jobIds.map((id) => `"${id}"`).join(',')}}
local counter = 0
request = function()
  counter = counter + 1
  local job = jobs[(counter % #jobs) + 1]
  return wrk.format(nil, nil, nil, '{"dataset_id":"${datasetId}","job_id":"' .. job .. '","task_index":' .. (${FIRST_INDEX} + counter) .. ',"name":"${NAME}","depends":[],"requirements":{"cpu":1,"memory":1.5}}')
end
`


interface Created {
  ids: Set<string>
  /** Created tasks whose job_index and dataset match their job's. */
  inTheirJob: number
  duplicateIndexes: number
  countsEqualRecount: boolean
}

/** The tasks this benchmark created, as the database has them. */
function createdTasks(db: string): Created {
  const sqlite = new Database(db, { readonly: true })
  try {
    const ids = new Set(sqlite.query<{ task_id: string }, [string]>('SELECT task_id FROM tasks WHERE name = ?').all(NAME).map((r) => r.task_id))
    const inTheirJob = sqlite
      .query<{ n: number }, [string]>('SELECT count(*) AS n FROM tasks t JOIN jobs j ON j.job_id = t.job_id AND j.dataset_id = t.dataset_id AND j.job_index = t.job_index WHERE t.name = ?')
      .get(NAME)!.n
    const duplicateIndexes = sqlite
      .query<{ n: number }, [string]>('SELECT count(*) AS n FROM (SELECT 1 FROM tasks WHERE name = ? GROUP BY job_id, task_index HAVING count(*) > 1)')
      .get(NAME)!.n
    return { ids, inTheirJob, duplicateIndexes, countsEqualRecount: countsMatchRecount(sqlite, datasetId) }
  } finally {
    sqlite.close()
  }
}

function checkCreated(label: string, created: Created) {
  if (created.inTheirJob !== created.ids.size) throw new Error(`${label}: ${created.ids.size - created.inTheirJob} created tasks do not match their job`)
  if (created.duplicateIndexes) throw new Error(`${label}: ${created.duplicateIndexes} (job, task_index) pairs created twice`)
  if (!created.countsEqualRecount) throw new Error(`${label}: task_counts differs from a recount`)
}

async function wrkRound(server: Side): Promise<RateRun> {
  const db = copyDatabase(seeded.path, dir, `${server}.sqlite`)
  const proc = await startSide(server, db)
  const run = wrkRun(`${proc.url}/tasks`, { connections, seconds, script: wrkScript })
  await proc.stop()
  if (run.errors || run.non2xx) throw new Error(`${server}: ${run.non2xx} non-2xx, ${run.errors} socket errors`)
  const created = createdTasks(db)
  removeDatabase(db)
  checkCreated(server, created)
  // wrk drops the answers still in flight when it stops; the server committed those tasks.
  const extra = created.ids.size - run.succeeded
  if (extra < 0 || extra > connections) throw new Error(`${server}: ${created.ids.size} tasks created, ${run.succeeded} answered 201`)
  return { rate: run.succeeded / run.seconds, p50Ms: run.p50Ms, p99Ms: run.p99Ms }
}

async function fetchRound(server: Side): Promise<{ rate: number; created: number; duplicates: number }> {
  const db = copyDatabase(seeded.path, dir, `${server}.sqlite`)
  const proc = await startSide(server, db)
  const ids: string[] = []
  const headers = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }
  let next = FIRST_INDEX
  const outcome = await fetchLoops({
    concurrency: connections,
    seconds,
    request: () => {
      const taskIndex = next++
      return new Request(`${proc.url}/tasks`, { method: 'POST', headers, body: taskBody(jobIds[taskIndex % jobIds.length]!, taskIndex) })
    },
    onAnswer: (status, text) => {
      if (status === 201) ids.push((JSON.parse(text) as { result: string }).result)
    },
  })
  await proc.stop()
  const created = createdTasks(db)
  removeDatabase(db)
  const answered = [...outcome.byStatus.values()].reduce((a, b) => a + b, 0)
  if (ids.length !== answered) throw new Error(`${server}: answers by status ${JSON.stringify([...outcome.byStatus])}`)
  checkCreated(server, created)
  const unique = new Set(ids)
  if (created.ids.size !== ids.length) throw new Error(`${server}: ${created.ids.size} tasks in the database, ${ids.length} answered 201`)
  for (const id of unique) if (!created.ids.has(id)) throw new Error(`${server}: answered task ${id} is not in the database`)
  return { rate: ids.length / outcome.seconds, created: ids.length, duplicates: ids.length - unique.size }
}

const cpu = cpuShare()
try {
  const wrkRuns = await alternate(rounds, SIDES, printedWrkRound('tasks/s', wrkRound))
  const fetched = { project: await fetchRound('project'), baseline: await fetchRound('baseline') }
  const projectRate = median(wrkRuns.project.map((r) => r.rate))
  const baselineRate = median(wrkRuns.baseline.map((r) => r.rate))
  const met = projectRate >= TARGET && fetched.project.duplicates === 0
  printCpuShare(cpu.stop())
  report(`creation POST /tasks (${connections} clients, into ${jobIds.length} jobs of a ${seeded.taskIds.length}-task dataset, ${seconds} s runs)`, {
    ...abWrkLines('tasks/s', wrkRuns),
    'project tasks/s, fetch loops': fetched.project.rate,
    'baseline tasks/s, fetch loops': fetched.baseline.rate,
    'project ids returned / duplicates': `${fetched.project.created} / ${fetched.project.duplicates}`,
    result: met ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'creation',
    figure: `${fmt(projectRate)} tasks/s (wrk); ${fmt(fetched.project.rate)} (fetch loops)`,
    goal: `>= ${TARGET} tasks/s`,
    met,
    baseline: `${fmt(baselineRate)} tasks/s (wrk); ${fmt(fetched.baseline.rate)} (fetch loops)`,
  })
} finally {
  await stopTracked()
  cleanup()
}
