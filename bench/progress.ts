/**
 * Progress on a dataset of 1M tasks (issue "Operator actions", point 4):
 * GET /datasets/<d>/progress, p50 <= 5 ms, served from maintained counts
 * (task and job counts, completions per minute), on the executable.
 * Before measuring, pilots claim and complete 2,000 tasks through the API
 * (completions of the last hour, in both the counts and the history), and
 * the history gets 1.5M older entries, as a dataset that has run a while has.
 * Baseline (bench/baseline-server.ts, same run): recounts of the tasks and
 * jobs by status, and the last hour's completions by a scan of the history.
 * One client sends one request at a time; A/B/A/B; the two servers' answers
 * must agree. GET .../queue_diagnostics (100k queued tasks) is timed too.
 * Usage: bun bench/progress.ts [--quick] [--requests N] [--rounds N]
 */
import { Database } from 'bun:sqlite'
import { alternate, sequentialLatencies, sequentialRunOptions, SIDES, type Side } from './lib/ab'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, percentile, printResult, report } from './lib/report'
import { copyDatabase, tempDir } from './lib/seed'
import { startProject, startSide, stopTracked, token, tracked, type Proc } from './lib/servers'
import { oneBigDataset } from './shapes'

const { quick, requests, rounds } = sequentialRunOptions(1000, 200)
const MAX_SECONDS = quick ? 5 : 20
const TARGET_P50_MS = 5

const seeded = oneBigDataset(quick)
const datasetId = seeded.datasetIds[0]!
const authorization = `Bearer ${token(seeded.path, 'admin')}`
const pilot = `Bearer ${token(seeded.path, 'pilot')}`
const { dir, cleanup } = tempDir('progress')

async function get(proc: Proc, path: string): Promise<string> {
  const response = await fetch(proc.url + path, { headers: { authorization } })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${text}`)
  return text
}

/** Sequential requests: latencies in ms, and the last answer. */
const latencies = (proc: Proc, path: string) => sequentialLatencies(() => get(proc, path), { requests, maxSeconds: MAX_SECONDS })

/** What both servers must agree on (the ETA moves with the clock). */
const agreed = (answer: string) => {
  const { eta: _, ...rest } = JSON.parse(answer) as Record<string, unknown>
  return JSON.stringify(rest)
}

const cpu = cpuShare()
try {
  const db = copyDatabase(seeded.path, dir)
  // Completions of the last hour, made the way pilots make them.
  const warm = await tracked(startProject(db, { ICEPROD_SCHEDULER: 'on' }))
  let completed = 0
  const post = async (path: string, body: unknown) => {
    const response = await fetch(warm.url + path, { method: 'POST', headers: { authorization: pilot }, body: JSON.stringify(body) })
    const text = await response.text()
    if (response.status !== 200) throw new Error(`warm-up ${path}: ${response.status} ${text}`)
    return JSON.parse(text) as { task_id: string; instance_id: string }
  }
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (completed < 2000) {
      const task = await post('/task_actions/process', { requirements: { cpu: 4, memory: 8 } })
      await post(`/tasks/${task.task_id}/task_actions/complete`, { instance_id: task.instance_id })
      completed++
    }
  }))
  await warm.stop()
  // An older history: three entries for every two tasks, more than an hour ago.
  const sqlite = new Database(db)
  sqlite.run(`INSERT INTO status_history (kind, subject, time, from_status, to_status, reason_code)
    SELECT 2, rowid, (unixepoch() - 7200) * 1000000, 1, 2, 1 FROM tasks UNION ALL SELECT 2, rowid, (unixepoch() - 7000) * 1000000, 2, 3, NULL FROM tasks WHERE rowid % 2 = 0 LIMIT ${quick ? 200_000 : 2_000_000}`)
  const entries = (sqlite.query('SELECT count(*) AS n FROM status_history').get() as { n: number }).n
  sqlite.exec('PRAGMA wal_checkpoint(TRUNCATE)')
  sqlite.close()

  const progressPath = `/datasets/${datasetId}/progress`
  const p50s: Record<Side, number[]> = { project: [], baseline: [] }
  const answers: Record<Side, string> = { project: '', baseline: '' }
  let diagnosticsP50 = NaN
  let diagnostics = ''
  await alternate(rounds, SIDES, async (side, round) => {
    const proc = await startSide(side, db, { ICEPROD_SCHEDULER: 'on' })
    const { times, answer } = await latencies(proc, progressPath)
    p50s[side].push(percentile(times, 50))
    answers[side] = answer
    console.log(`  round ${round + 1} ${side}: ${times.length} requests, p50 ${fmt(percentile(times, 50))} ms, p99 ${fmt(percentile(times, 99))} ms`)
    if (side === 'project' && round === rounds - 1) {
      const measured = await latencies(proc, `/datasets/${datasetId}/queue_diagnostics`)
      diagnosticsP50 = percentile(measured.times, 50)
      diagnostics = measured.answer
    }
    await proc.stop()
  })
  if (agreed(answers.project) !== agreed(answers.baseline)) throw new Error(`the answers differ: project ${answers.project}, baseline ${answers.baseline}`)
  if ((JSON.parse(answers.project) as { completed_last_hour: number }).completed_last_hour !== completed) throw new Error(`completed_last_hour is not the ${completed} completions made`)
  printCpuShare(cpu.stop())
  const p50 = median(p50s.project)
  report(`progress of a dataset of ${seeded.taskIds.length} tasks with ${entries} history entries (sequential client)`, {
    'project p50 ms (median of runs)': p50,
    'project runs p50': p50s.project.map(fmt).join(' '),
    'baseline p50 ms (median of runs)': median(p50s.baseline),
    'baseline / project': median(p50s.baseline) / p50,
    answer: answers.project,
    'queue_diagnostics p50 ms': diagnosticsP50,
    'queue_diagnostics answer': diagnostics,
    [`target (p50 <= ${TARGET_P50_MS} ms)`]: p50 <= TARGET_P50_MS ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'progress',
    figure: `p50 ${fmt(p50)} ms (queue_diagnostics p50 ${fmt(diagnosticsP50)} ms)`,
    goal: `p50 <= ${TARGET_P50_MS} ms, equal to a recount`,
    met: p50 <= TARGET_P50_MS,
    baseline: `p50 ${fmt(median(p50s.baseline))} ms (recounts and a scan of the history)`,
  })
} finally {
  await stopTracked()
  cleanup()
}
