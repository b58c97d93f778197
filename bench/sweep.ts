/**
 * Scheduler target — the sweep for lost tasks over 1M tasks and 10,000
 * pilots: ≤ 200 ms for the whole sweep, and no request held up by it for
 * more than 20 ms.
 *
 * On a copy of the 1M-task database, 11,000 queued tasks are made processing
 * (started long ago) through the real tables and triggers, and 10,000 pilots
 * are registered, each listing one of them: the sweep must reset the other
 * 1,000, which no pilot lists, and leave the 10,000 alone. The server runs
 * with ICEPROD_SWEEP_INTERVAL=1 and a pilot timeout far out (so the silent
 * pilots' index is read too, and finds none). The sweep's duration is the
 * server's own measure (/metrics, iceprod_scheduler_last_sweep_seconds), and
 * so is its longest transaction, the longest a request can wait behind it
 * (iceprod_scheduler_last_sweep_longest_step_seconds). Meanwhile one client
 * sends GET /tasks/<id> one at a time: its slowest answer, against the same
 * probe's on the same server with ICEPROD_SCHEDULER=off (no sweep) in the
 * same run, shows the rest of what a request waits for on this machine.
 * Usage: bun bench/sweep.ts [--quick] [--rounds N]
 */
import { Database } from 'bun:sqlite'
import { parseArgs } from 'node:util'
import { closeDatabase, openDatabase } from '../src/db'
import { newId } from '../src/db/documents'
import { alternate } from './lib/ab'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, removeDatabase, tempDir } from './lib/seed'
import { startProject, stopTracked, token, tracked, type Proc } from './lib/servers'
import { oneBigDataset } from './shapes'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' } } })
const quick = values.quick
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3))
const PILOTS = quick ? 2_000 : 10_000
const LOST = quick ? 200 : 1_000
const SWEEP_MS = 200
const BLOCK_MS = 20
const LONG_AGO = '2020-01-01T00:00:00.000000'

const seeded = oneBigDataset(quick)
const bearer = token(seeded.path, 'admin')
const { dir, cleanup } = tempDir('sweep')

/** The copy with processing tasks and pilots; returns the ids of the lost ones. */
function prepare(db: string): { lost: string[]; listed: string[] } {
  const { sqlite } = openDatabase(db)
  try {
    const ids = sqlite.query<{ task_id: string }, [number]>("SELECT task_id FROM tasks WHERE status = 'queued' ORDER BY rowid LIMIT ?").all(PILOTS + LOST).map((r) => r.task_id)
    const start = sqlite.prepare(`UPDATE tasks SET doc = json_set(doc, '$.status', 'processing', '$.status_changed', ?) WHERE task_id = ?`)
    const pilot = sqlite.prepare('INSERT INTO pilots (pilot_id, doc) VALUES (?, ?)')
    const now = new Date().toISOString().replace('Z', '000')
    sqlite.transaction(() => {
      for (const id of ids) start.run(LONG_AGO, id)
      ids.slice(0, PILOTS).forEach((taskId, i) => {
        const pilotId = newId()
        pilot.run(pilotId, JSON.stringify({ pilot_id: pilotId, queue_host: `ce${i % 50}`, queue_version: '3', resources: { cpu: 1 }, tasks: [taskId], host: '', version: '', grid_queue_id: '', available: {}, claimed: {}, submit_time: now, start_date: now, last_update: now }))
      })
    })()
    return { listed: ids.slice(0, PILOTS), lost: ids.slice(PILOTS) }
  } finally {
    closeDatabase(sqlite)
  }
}

async function metric(proc: Proc, name: string): Promise<number> {
  const text = await (await fetch(`${proc.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(name + ' '))
  return line ? Number(line.split(' ')[1]) : 0
}

interface Round {
  sweepMs: number
  /** The sweep's longest transaction, as the server measured it: the longest any request could wait behind it. */
  longestStepMs: number
  slowestMs: number
  requests: number
}

/** GET /tasks/<id>, one at a time, until `done` says so; the latencies. */
async function probe(proc: Proc, taskId: string, done: () => Promise<boolean>): Promise<number[]> {
  const latencies: number[] = []
  const headers = { authorization: `Bearer ${bearer}` }
  for (let n = 0; ; n++) {
    const sent = performance.now()
    const r = await fetch(`${proc.url}/tasks/${taskId}`, { headers })
    await r.text()
    latencies.push(performance.now() - sent)
    if (n % 20 === 19 && (await done())) return latencies
  }
}

async function round(mode: 'on' | 'off'): Promise<Round> {
  const db = copyDatabase(seeded.path, dir, `${mode}.sqlite`)
  const { lost, listed } = prepare(db)
  const env = { ICEPROD_SCHEDULER: mode, ICEPROD_SWEEP_INTERVAL: '1', ICEPROD_TASK_GRACE: '60', ICEPROD_PILOT_TIMEOUT: String(30 * 86400) }
  const proc = await tracked(startProject(db, env))
  const started = performance.now()
  // With the scheduler on: until the first sweep is done. Off: as long, for the same probe.
  const latencies = await probe(proc, seeded.taskIds[12345]!, async () =>
    mode === 'on' ? (await metric(proc, 'iceprod_scheduler_sweeps_total')) >= 1 : performance.now() - started > 1500)
  const sweepMs = mode === 'on' ? (await metric(proc, 'iceprod_scheduler_last_sweep_seconds')) * 1000 : 0
  const longestStepMs = mode === 'on' ? (await metric(proc, 'iceprod_scheduler_last_sweep_longest_step_seconds')) * 1000 : 0
  await proc.stop()
  const sqlite = new Database(db, { readonly: true })
  const statusOf = sqlite.prepare<{ status: string; evictions: number }, [string]>("SELECT status, json_extract(doc, '$.evictions') AS evictions FROM tasks WHERE task_id = ?")
  const stillProcessing = (ids: string[]) => ids.filter((id) => statusOf.get(id)!.status === 'processing').length
  if (stillProcessing(listed) !== listed.length) throw new Error(`${mode}: a task its pilot lists was reset`)
  const lostLeft = stillProcessing(lost)
  if (mode === 'on' && (lostLeft !== 0 || lost.some((id) => statusOf.get(id)!.evictions !== 1))) throw new Error(`on: ${lostLeft} lost tasks still processing`)
  if (mode === 'off' && lostLeft !== lost.length) throw new Error('off: a lost task was reset')
  sqlite.close()
  removeDatabase(db)
  const r = { sweepMs, longestStepMs, slowestMs: Math.max(...latencies), requests: latencies.length }
  console.log(`  ${mode}: ${mode === 'on' ? `sweep ${fmt(sweepMs)} ms, longest transaction ${fmt(longestStepMs)} ms` : 'no sweep'}; ${r.requests} requests meanwhile, slowest ${fmt(r.slowestMs)} ms`)
  return r
}

const cpu = cpuShare()
try {
  const { on, off } = await alternate(ROUNDS, ['off', 'on'] as const, round)
  const sweepMs = median(on.map((r) => r.sweepMs))
  const longestStep = Math.max(...on.map((r) => r.longestStepMs))
  const slowest = median(on.map((r) => r.slowestMs))
  const slowestOff = median(off.map((r) => r.slowestMs))
  printCpuShare(cpu.stop())
  const met = sweepMs <= SWEEP_MS && longestStep <= BLOCK_MS
  report(`sweep over ${seeded.taskIds.length} tasks and ${PILOTS} pilots (${LOST} lost tasks to reset)`, {
    'sweep ms (median)': sweepMs,
    'sweep ms (each run)': on.map((r) => fmt(r.sweepMs)).join(' '),
    'longest sweep transaction, ms (worst run)': longestStep,
    'slowest probe request, ms (median)': slowest,
    'slowest probe request, scheduler off, ms (median)': slowestOff,
    result: met ? 'MET' : 'NOT MET',
  })
  printResult({ target: 'sweep', figure: `${fmt(sweepMs)} ms, longest transaction ${fmt(longestStep)} ms (probe's slowest answer ${fmt(slowest)} ms)`, goal: `<= ${SWEEP_MS} ms, no request held > ${BLOCK_MS} ms`, met, baseline: `probe's slowest answer ${fmt(slowestOff)} ms without the scheduler` })
} finally {
  await stopTracked()
  cleanup()
}
