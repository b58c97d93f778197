/**
 * Reads while another process holds the write lock: one server process
 * answers reads (GET /tasks/<id>, a dataset's task counts, /healthz) from 8
 * concurrent clients and writes (POST /groups, POST /tasks) from 2 more,
 * first for a phase with the lock free (the baseline, in the same run), then
 * while a second process holds BEGIN IMMEDIATE on the same database for 10 s
 * (3 s with --quick). Goal: read p99 ≤ 20 ms during the hold. Writes during
 * the hold must wait no longer than ICEPROD_LOCK_TIMEOUT_MS (2 s) and then
 * answer 503 with Retry-After; after it they succeed again.
 *
 * Before the lock was taken without blocking the thread, a write waiting for
 * it (SQLite's busy_timeout) froze the server's event loop: reads waited
 * behind it for seconds.
 *
 * Run twice, each on its own new database: with ICEPROD_SCHEDULER=off
 * (nothing in the background), and with the scheduler on and its background
 * transactions running all along: a second dataset of 100,000 jobs × 10 tasks
 * being materialized (ICEPROD_BUFFER_JOBS=100000), and a sweep every second
 * (ICEPROD_SWEEP_INTERVAL=1, ICEPROD_TASK_GRACE=1) over 500 processing
 * tasks, listed by 100 pilots. Those transactions wait for the lock during
 * the hold as a request's write does.
 *
 * Usage: bun bench/lock-contention.ts [--quick] [--hold SECONDS] [--scheduler on|off|both]
 */
import { parseArgs } from 'node:util'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, percentile, printResult, report } from './lib/report'
import { seed, tempDir } from './lib/seed'
import { startProject, token } from './lib/servers'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, hold: { type: 'string' }, scheduler: { type: 'string', default: 'both' } } })
const holdSeconds = Number(values.hold ?? (values.quick ? 3 : 10))
const READERS = 8
const WRITERS = 2
const TARGET_P99_MS = 20
const LOCK_TIMEOUT_MS = 2000

interface Sample {
  kind: 'read' | 'write'
  /** When the request was sent and answered, performance.now() ms. */
  sent: number
  answered: number
  status: number
  retryAfter: string | null
}

type Mode = 'off' | 'on'
const modes: Mode[] = values.scheduler === 'both' ? ['off', 'on'] : [values.scheduler as Mode]
if (!modes.every((mode) => mode === 'on' || mode === 'off')) throw new Error('--scheduler: on, off or both')
/** The background work with the scheduler on: a dataset materialized all along, sweeps over listed processing tasks. */
const MATERIALIZED_JOBS = 100_000
const PROCESSING = 500
const TASKS_PER_PILOT = 5

const { dir, cleanup } = tempDir('lock-contention')
let failed = false
try {
  for (const mode of modes) if (!(await scenario(mode))) failed = true
} finally {
  cleanup()
}
if (failed) process.exitCode = 1

/** One run of the benchmark with the scheduler `mode`; whether its goals were met. */
async function scenario(mode: Mode): Promise<boolean> {
  const db = `${dir}/${mode}.sqlite`
  const seeded = seed(db, { datasets: 1, jobsPerDataset: 100, tasksPerJob: 10, status: (i) => (mode === 'on' && i < PROCESSING ? 'queued' : 'waiting') })
  const datasetId = seeded.datasetIds[0]!
  const reader = `Bearer ${token(db, 'client')}`
  const admin = `Bearer ${token(db, 'admin')}`
  const env: Record<string, string> = { ICEPROD_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS), ICEPROD_SCHEDULER: mode }
  if (mode === 'on') Object.assign(env, { ICEPROD_SWEEP_INTERVAL: '1', ICEPROD_TASK_GRACE: '1', ICEPROD_BUFFER_JOBS: String(MATERIALIZED_JOBS) })
  const proc = await startProject(db, env)
  const samples: Sample[] = []
  let running = true
  const headers = { authorization: admin, 'content-type': 'application/json' }
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(proc.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
    return (await response.json()) as Record<string, any>
  }

  async function timed(kind: Sample['kind'], path: string, init: RequestInit): Promise<void> {
    const sent = performance.now()
    let status = 599
    let retryAfter: string | null = null
    try {
      const response = await fetch(proc.url + path, init)
      await response.arrayBuffer()
      status = response.status
      retryAfter = response.headers.get('retry-after')
    } catch {
      // A dropped connection counts as 599.
    }
    samples.push({ kind, sent, answered: performance.now(), status, retryAfter })
  }

  async function readLoop(): Promise<void> {
    for (let i = 0; running; i++) {
      const choice = i % 10
      if (choice === 0) await timed('read', '/healthz', {})
      else if (choice < 3) await timed('read', `/datasets/${datasetId}/task_counts/status`, { headers: { authorization: reader } })
      else await timed('read', `/tasks/${seeded.taskIds[Math.floor(Math.random() * seeded.taskIds.length)]}`, { headers: { authorization: reader } })
    }
  }

  let jobId: string | undefined
  async function writeLoop(w: number): Promise<void> {
    for (let i = 0; running; i++) {
      if (i % 2 === 0) await timed('write', '/groups', { method: 'POST', headers, body: JSON.stringify({ name: `/lock/${w}/${i}` }) })
      else await timed('write', '/tasks', { method: 'POST', headers, body: JSON.stringify({ dataset_id: datasetId, job_id: jobId, task_index: 1000 + w * 1_000_000 + i, name: 'lock', depends: [], requirements: {} }) })
    }
  }

  /** With the scheduler on: the tasks the sweeps look at, and a dataset to be materialized all along. */
  let materialized: string | undefined
  async function backgroundWork(): Promise<void> {
    const claimed: string[] = []
    for (let i = 0; i < PROCESSING; i++) claimed.push((await api('POST', '/task_actions/process', { requirements: { cpu: 8, memory: 16 } })).task_id)
    for (let i = 0; i < claimed.length; i += TASKS_PER_PILOT) await api('POST', '/pilots', { queue_host: 'bench', queue_version: '1', resources: {}, tasks: claimed.slice(i, i + TASKS_PER_PILOT) })
    await api('POST', '/groups', { name: '/lock-materialized' })
    const created = await api('POST', '/datasets', { description: 'materialized during the run', jobs_submitted: MATERIALIZED_JOBS, tasks_submitted: MATERIALIZED_JOBS * 10, group: '/lock-materialized' })
    materialized = String(created.result).split('/').pop()!
    await api('PUT', `/datasets/${materialized}/config`, { tasks: Array.from({ length: 10 }, (_, k) => ({ name: `step${k}`, depends: k === 0 ? [] : [`step${k - 1}`] })) })
  }

  /** A second process that holds the write lock for `seconds`: when it took the lock, and when it let go. */
  async function holdWriteLock(seconds: number): Promise<{ heldAt: number; released: Promise<number> }> {
    const script = `
      const { Database } = require('bun:sqlite')
      const db = new Database(${JSON.stringify(db)})
      db.exec('PRAGMA busy_timeout = 10000')
      db.exec('BEGIN IMMEDIATE')
      console.log('held')
      await Bun.sleep(${seconds * 1000})
      db.exec('ROLLBACK')
      db.close()
      console.log('released')
    `
    const holder = Bun.spawn(['bun', '-e', script], { stdout: 'pipe', stderr: 'inherit' })
    let onHeld: (at: number) => void = () => {}
    const held = new Promise<number>((resolve) => (onHeld = resolve))
    const released = (async () => {
      let text = ''
      const decoder = new TextDecoder()
      for await (const chunk of holder.stdout as ReadableStream<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true })
        if (text.includes('held')) onHeld(performance.now())
        if (text.includes('released')) break
      }
      const at = performance.now()
      if ((await holder.exited) !== 0 || !text.includes('released')) throw new Error(`the lock holder failed: ${text}`)
      return at
    })()
    return { heldAt: await Promise.race([held, released.then(() => { throw new Error('the lock holder never held the lock') })]), released }
  }

  /** With the scheduler on: the materialized dataset's tasks now, and the sweeps so far (from /metrics). */
  async function progress(): Promise<{ tasks: number; sweeps: number }> {
    if (materialized === undefined) return { tasks: 0, sweeps: 0 }
    const text = await (await fetch(`${proc.url}/metrics`, { headers: { authorization: admin } })).text()
    const sweeps = Number(text.split('\n').find((line) => line.startsWith('iceprod_scheduler_sweeps_total'))?.split(' ').at(-1) ?? 0)
    const counts = (await api('GET', `/datasets/${materialized}/task_counts/status`)) as Record<string, number>
    return { tasks: Object.values(counts).reduce((sum, n) => sum + n, 0), sweeps }
  }

  const share = cpuShare()
  let heldAt: number
  let releasedAt: number
  let phaseStarted: number
  let before = { tasks: 0, sweeps: 0 }
  let after = { tasks: 0, sweeps: 0 }
  try {
    jobId = (await api('POST', '/jobs', { dataset_id: datasetId, job_index: 100_000 })).result
    if (mode === 'on') await backgroundWork()
    const loops = [...Array.from({ length: READERS }, readLoop), ...Array.from({ length: WRITERS }, (_, w) => writeLoop(w))]
    // Warm-up, then the same length with the lock free as the baseline.
    await Bun.sleep(2000)
    before = await progress()
    phaseStarted = performance.now()
    await Bun.sleep(holdSeconds * 1000)
    const hold = await holdWriteLock(holdSeconds)
    heldAt = hold.heldAt
    releasedAt = await hold.released
    // After the hold: writes go through again.
    await Bun.sleep(2000)
    after = await progress()
    running = false
    await Promise.all(loops)
  } finally {
    await proc.stop()
  }
  const cpu = share.stop()

  const latencies = (from: number, to: number, kind: Sample['kind']) => samples.filter((s) => s.kind === kind && s.sent >= from && s.answered <= to).map((s) => s.answered - s.sent)
  // Reads sent while the lock was held; writes that waited for it at some moment of the hold.
  const holdReads = samples.filter((s) => s.kind === 'read' && s.sent >= heldAt! && s.sent < releasedAt!).map((s) => s.answered - s.sent)
  const holdWrites = samples.filter((s) => s.kind === 'write' && s.sent < releasedAt! && s.answered > heldAt!)
  const baselineReads = latencies(phaseStarted!, heldAt!, 'read')
  const afterWrites = samples.filter((s) => s.kind === 'write' && s.sent >= releasedAt! + 100)
  const serverErrors = (list: Sample[]) => list.filter((s) => s.status >= 500 && s.status !== 503).length
  const refused = holdWrites.filter((s) => s.status === 503)
  const readFailures = samples.filter((s) => s.kind === 'read' && s.status !== 200).length
  const p99Hold = percentile(holdReads, 99)
  const p99Base = percentile(baselineReads, 99)
  const longestWrite = Math.max(0, ...holdWrites.map((s) => s.answered - s.sent))

  const label = mode === 'on' ? 'scheduler on, materializing and sweeping' : 'scheduler off'
  report(`lock contention (${label}): reads while another process holds the write lock for ${holdSeconds} s`, {
    'reads, lock free (baseline)': `${baselineReads.length} req, p50 ${fmt(percentile(baselineReads, 50))} ms, p99 ${fmt(p99Base)} ms`,
    'reads, lock held elsewhere': `${holdReads.length} req, p50 ${fmt(percentile(holdReads, 50))} ms, p99 ${fmt(p99Hold)} ms, max ${fmt(Math.max(0, ...holdReads))} ms`,
    'p99 ratio held / free': fmt(p99Hold / p99Base),
    'writes waiting during the hold': `${holdWrites.length}: ${refused.length} answered 503 (${refused.filter((s) => s.retryAfter !== null).length} with Retry-After), ${holdWrites.filter((s) => s.status === 201).length} 201 (sent within ${LOCK_TIMEOUT_MS} ms of its end); longest wait ${fmt(longestWrite)} ms`,
    'writes after the hold': `${afterWrites.length}: ${afterWrites.filter((s) => s.status === 201).length} answered 201`,
    'reads not 200 (whole run)': readFailures,
    '5xx other than 503': serverErrors(samples),
    ...(mode === 'on' ? { 'background work during the measured phases': `${after.tasks - before.tasks} tasks materialized, ${after.sweeps - before.sweeps} sweeps` } : {}),
  })
  printCpuShare(cpu)
  const writesOk = refused.length > 0 && refused.every((s) => s.retryAfter !== null) && longestWrite < LOCK_TIMEOUT_MS + 1000 && afterWrites.length > 0 && afterWrites.every((s) => s.status === 201)
  const readsMet = p99Hold <= TARGET_P99_MS && readFailures === 0
  printResult({
    target: `lock held elsewhere ${holdSeconds} s (${label}): read p99`,
    figure: `${fmt(p99Hold)} ms (${fmt(p99Hold / p99Base)} x lock free)`,
    goal: `<= ${TARGET_P99_MS} ms`,
    baseline: `lock free: ${fmt(p99Base)} ms`,
    met: readsMet,
  })
  printResult({
    target: `lock held elsewhere (${label}): writes`,
    figure: `${refused.length} x 503 + Retry-After after <= ${fmt(longestWrite)} ms; ${afterWrites.length} after it, all 201`,
    goal: `503 within ${LOCK_TIMEOUT_MS} ms (+ scheduling), then 201`,
    met: writesOk && serverErrors(samples) === 0,
  })
  return readsMet && writesOk && serverErrors(samples) === 0
}
