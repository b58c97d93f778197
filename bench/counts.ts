/**
 * Target 3 — counts: GET /datasets/<id>/task_counts/status and
 * /job_counts/status for a dataset of 1M tasks (10,000 jobs); p50 <= 5 ms, and
 * every answer equals a full recount
 * (SELECT status, count(*) FROM tasks WHERE dataset_id = ? GROUP BY status).
 *
 * Latency: one client sending one request at a time (the latency of a count,
 * not of a queue of requests), A/B/A/B against the raw baseline
 * (bench/baseline-server.ts), which answers with that GROUP BY recount;
 * medians of the per-run p50s. wrk -c32 then gives the rate under load.
 * Equality: the answers are compared with a recount read from the database
 * file, in the documented status order, before and after a burst of API
 * writes (status PUTs on tasks and jobs, claims, creations) that the counting
 * triggers must follow.
 * Usage: bun bench/counts.ts [--quick] [--requests N] [--rounds N]
 */
import { Database } from 'bun:sqlite'
import { JOB_STATUSES, TASK_STATUSES } from '../src/status'
import { alternate, sequentialLatencies, sequentialRunOptions, SIDES, type Side } from './lib/ab'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, percentile, printResult, report } from './lib/report'
import { copyDatabase, tempDir } from './lib/seed'
import { startProject, startSide, stopTracked, token, tracked, type Proc } from './lib/servers'
import { requireWrk, wrkRun } from './lib/wrk'
import { oneBigDataset } from './shapes'

requireWrk()

const { quick, requests, rounds } = sequentialRunOptions(2000, 300)
/** A slow baseline stops after this long even before `requests`. */
const MAX_SECONDS = quick ? 3 : 10
const TARGET_P50_MS = 5

const seeded = oneBigDataset(quick)
const datasetId = seeded.datasetIds[0]!
const authorization = `Bearer ${token(seeded.path, 'system')}`
/** Claims are for pilots (and admins). */
const pilotAuthorization = `Bearer ${token(seeded.path, 'pilot')}`
const { dir, cleanup } = tempDir('counts')

const ENDPOINTS = {
  task_counts: { path: `/datasets/${datasetId}/task_counts/status`, table: 'tasks', order: TASK_STATUSES },
  job_counts: { path: `/datasets/${datasetId}/job_counts/status`, table: 'jobs', order: JOB_STATUSES },
} as const
type Endpoint = keyof typeof ENDPOINTS

/** The full recount, as the API must answer it: statuses that occur, in the documented order. */
function recount(db: string, endpoint: Endpoint): string {
  const { table, order } = ENDPOINTS[endpoint]
  const sqlite = new Database(db, { readonly: true })
  try {
    const rows = sqlite.query<{ status: string; n: number }, [string]>(`SELECT status, count(*) AS n FROM ${table} WHERE dataset_id = ? GROUP BY status`).all(datasetId)
    const counts: Record<string, number> = {}
    for (const status of order) {
      const row = rows.find((r) => r.status === status)
      if (row) counts[status] = row.n
    }
    if (rows.some((r) => !(order as readonly string[]).includes(r.status))) throw new Error(`unknown status in ${table}`)
    return JSON.stringify(counts)
  } finally {
    sqlite.close()
  }
}

async function get(url: string): Promise<string> {
  const response = await fetch(url, { headers: { authorization } })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`${url}: ${response.status} ${text}`)
  return text
}

/** Sequential requests: latencies in ms; every answer must equal `expected`. */
async function latencies(proc: Proc, endpoint: Endpoint, expected: string): Promise<number[]> {
  const url = proc.url + ENDPOINTS[endpoint].path
  const onAnswer = (text: string) => {
    if (text !== expected) throw new Error(`${endpoint}: answer ${text} differs from the recount ${expected}`)
  }
  return (await sequentialLatencies(() => get(url), { requests, maxSeconds: MAX_SECONDS, onAnswer })).times
}

const cpu = cpuShare()
try {
  const db = copyDatabase(seeded.path, dir)
  const expected = { task_counts: recount(db, 'task_counts'), job_counts: recount(db, 'job_counts') }
  console.log(`  recount: tasks ${expected.task_counts}\n           jobs ${expected.job_counts}`)
  const p50s: Record<Side, Record<Endpoint, number[]>> = { project: { task_counts: [], job_counts: [] }, baseline: { task_counts: [], job_counts: [] } }
  const p99s: Record<Side, Record<Endpoint, number[]>> = { project: { task_counts: [], job_counts: [] }, baseline: { task_counts: [], job_counts: [] } }
  const underLoad: Record<Side, Record<Endpoint, { rps: number; p50: number }>> = {} as never
  await alternate(rounds, SIDES, async (server, round) => {
    const proc = await startSide(server, db)
    for (const endpoint of ['task_counts', 'job_counts'] as const) {
      const times = await latencies(proc, endpoint, expected[endpoint])
      p50s[server][endpoint].push(percentile(times, 50))
      p99s[server][endpoint].push(percentile(times, 99))
      console.log(`  round ${round + 1} ${server} ${endpoint}: ${times.length} requests, p50 ${fmt(percentile(times, 50))} ms, p99 ${fmt(percentile(times, 99))} ms`)
      if (round === rounds - 1) {
        const run = wrkRun(proc.url + ENDPOINTS[endpoint].path, {
          connections: 32,
          seconds: quick ? 2 : 5,
          script: `wrk.headers["Authorization"] = "${authorization}"\n`,
          // 32 queued recounts of ~100 ms each keep the baseline's answers waiting for seconds.
          timeoutSeconds: 30,
        })
        if (run.non2xx || run.errors) throw new Error(`${server} ${endpoint} under load: ${run.non2xx} non-2xx, ${run.errors} socket errors`)
        underLoad[server] ??= {} as never
        underLoad[server][endpoint] = { rps: run.requestsPerSec, p50: run.p50Ms }
      }
    }
    await proc.stop()
  })

  // The counts follow writes: a burst of API writes, then the answers are compared with a recount again.
  const proc = await tracked(startProject(db))
  const sqlite = new Database(db, { readonly: true })
  const jobIds = sqlite.query<{ job_id: string }, [string]>('SELECT job_id FROM jobs WHERE dataset_id = ? ORDER BY rowid').all(datasetId).map((r) => r.job_id)
  sqlite.close()
  const headers = { authorization, 'content-type': 'application/json' }
  const pilotHeaders = { ...headers, authorization: pilotAuthorization }
  const send = async (method: string, path: string, body: unknown, ok: number) => {
    const response = await fetch(proc.url + path, { method, headers: path === '/task_actions/process' ? pilotHeaders : headers, body: JSON.stringify(body) })
    if (response.status !== ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
    await response.arrayBuffer()
  }
  const writes = quick ? 200 : 1000
  const random = (n: number) => Math.floor(Math.random() * n)
  for (let i = 0; i < writes; i++) {
    const taskId = seeded.taskIds[random(seeded.taskIds.length)]!
    await send('PUT', `/datasets/${datasetId}/tasks/${taskId}/status`, { status: TASK_STATUSES[random(TASK_STATUSES.length)] }, 200)
    if (i % 5 === 0) await send('PUT', `/datasets/${datasetId}/jobs/${jobIds[random(jobIds.length)]}/status`, { status: JOB_STATUSES[random(JOB_STATUSES.length)] }, 200)
    if (i % 5 === 1) await send('POST', '/task_actions/process', { requirements: { cpu: 4, memory: 8 } }, 200)
    if (i % 5 === 2) await send('POST', '/tasks', { dataset_id: datasetId, job_id: jobIds[0], task_index: 1000 + i, name: 'extra', depends: [], requirements: {} }, 201)
  }
  const afterWrites = {
    task_counts: (await get(proc.url + ENDPOINTS.task_counts.path)) === recount(db, 'task_counts'),
    job_counts: (await get(proc.url + ENDPOINTS.job_counts.path)) === recount(db, 'job_counts'),
  }
  await proc.stop()

  const lines: Record<string, string | number> = {}
  let met = afterWrites.task_counts && afterWrites.job_counts
  for (const endpoint of ['task_counts', 'job_counts'] as const) {
    const p50 = median(p50s.project[endpoint])
    met &&= p50 <= TARGET_P50_MS
    lines[`${endpoint} project p50 ms (median)`] = p50
    lines[`${endpoint} baseline p50 ms (median)`] = median(p50s.baseline[endpoint])
    lines[`${endpoint} project / baseline p99 ms`] = `${fmt(median(p99s.project[endpoint]))} / ${fmt(median(p99s.baseline[endpoint]))}`
    lines[`${endpoint} project runs p50`] = p50s.project[endpoint].map(fmt).join(' ')
    lines[`${endpoint} wrk -c32 project req/s, p50`] = `${fmt(underLoad.project[endpoint].rps)}, ${fmt(underLoad.project[endpoint].p50)} ms`
    lines[`${endpoint} wrk -c32 baseline req/s, p50`] = `${fmt(underLoad.baseline[endpoint].rps)}, ${fmt(underLoad.baseline[endpoint].p50)} ms`
    lines[`${endpoint} equals recount after ${writes} writes`] = afterWrites[endpoint] ? 'yes' : 'NO'
  }
  lines.result = met ? 'MET' : 'NOT MET'
  printCpuShare(cpu.stop())
  report(`counts for a dataset of ${seeded.taskIds.length} tasks, ${jobIds.length} jobs (sequential client)`, lines)
  for (const endpoint of ['task_counts', 'job_counts'] as const) {
    const p50 = median(p50s.project[endpoint])
    printResult({
      target: `counts ${endpoint}`,
      figure: `p50 ${fmt(p50)} ms, ${afterWrites[endpoint] ? 'equals' : 'DIFFERS FROM'} recount`,
      goal: `p50 <= ${TARGET_P50_MS} ms, equals recount`,
      met: p50 <= TARGET_P50_MS && afterWrites[endpoint],
      baseline: `p50 ${fmt(median(p50s.baseline[endpoint]))} ms (GROUP BY recount)`,
    })
  }
} finally {
  await stopTracked()
  cleanup()
}
