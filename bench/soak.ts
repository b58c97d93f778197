/**
 * Soak: minutes of mixed traffic against the real server process on loopback,
 * from a fixed number of concurrent workers, each a loop that stops at the
 * deadline:
 *   readers  GET a task, list a small dataset's tasks, task and job counts,
 *            a dataset's task stats, a claimed task's logs
 *   writers  POST jobs and tasks, PUT task status, POST small logs, PATCH pilots
 *   pilots   POST /task_actions/process; with the task they got: PATCH their
 *            pilot, POST its log (10-100 KB), POST its task stats, then
 *            complete it or (one in six) reset it; when nothing is queued,
 *            refill with POST /task_actions/queue
 * Pilot logs are limited to --log-mb MB of text a second in all, so that the
 * database grows by a bounded amount (a pilot skips its log when over it).
 * A warm-up runs the same mix first; then the measured phase reports total
 * requests, p50/p99 latency per kind, and the server's RSS, sampled every
 * second: right after the warm-up, at the start and at the end (medians over
 * the first and last minute of the run, or tenth of it when shorter than 10
 * minutes) and the growth between those two, and how many cores other
 * processes kept busy meanwhile. Any 5xx or unexpected status fails the run
 * (exit 1), as does RSS growth over the target.
 *
 * Usage: bun bench/soak.ts [--seconds 600] [--warmup 15] [--readers 4] [--writers 3] [--pilots 3] [--log-mb 2]
 *        bun bench/soak.ts --quick   (a smoke run: 60 s after a 15 s warm-up)
 */
import { parseArgs } from 'node:util'
import { cpuShare, printCpuShare, type CpuShare } from './lib/cpu'
import { fmt, median, percentile, printResult, report } from './lib/report'
import { seed, tempDir } from './lib/seed'
import { startProject, token, type Proc } from './lib/servers'

export interface SoakOptions {
  /** Length of the measured phase. */
  seconds: number
  /** Length of the warm-up before the starting RSS is read. */
  warmupSeconds: number
  readers: number
  writers: number
  pilots: number
  /** Most pilot log text posted per second, in MB (10^6 bytes). */
  logMbPerSecond: number
}

export interface KindResult {
  requests: number
  p50Ms: number
  p99Ms: number
}

export interface SoakResult {
  seconds: number
  requests: number
  requestsPerSec: number
  kinds: Record<string, KindResult>
  serverErrors: number
  /** Answers with a status the kind never expects, e.g. "POST /jobs 409": count. */
  unexpected: Record<string, number>
  /** RSS the moment the warm-up ended. */
  rssAfterWarmupMb: number
  /** Median RSS over the first minute of the measured phase (its first tenth when shorter than 10 minutes; one sample a second, at least 3). */
  rssStartMb: number
  /** Median RSS over its last minute (or tenth). */
  rssEndMb: number
  /** Seconds of samples each of those medians is taken over. */
  rssWindowSeconds: number
  rssPeakMb: number
  /** RSS sampled through the measured phase, MB, one value per tenth of it. */
  rssTimelineMb: number[]
  rssGrowthPercent: number
  /** Pilot logs posted in the measured phase, and their text in MB. */
  pilotLogs: number
  pilotLogMb: number
  /** How busy the machine was with other work through the warm-up and the measured phase. */
  cpu: CpuShare
  /** Why the run failed; empty when it passed. */
  failures: string[]
}

export const RSS_GROWTH_TARGET_PERCENT = 10

/**
 * The seeded datasets: 10 jobs of 2 tasks each. The first is the small
 * dataset the readers list, its tasks idle so that its listing stays the same
 * size and shape; the others' tasks wait, ready for the pilots to claim
 * (the writers add more).
 */
const SEEDED = { datasets: 6, jobsPerDataset: 10, tasksPerJob: 2 }
const SMALL_TASKS = SEEDED.jobsPerDataset * SEEDED.tasksPerJob
/** A dependency that never completes: tasks the writers change statuses of are never queued, so pilots never hold them. */
const NEVER_READY = 'soak_never_complete'
/** Requirements every claimable task states and every pilot offers enough for. */
const REQUIREMENTS = { cpu: 1, memory: 1.5 }
const OFFER = { cpu: 2, memory: 4, os: 'RHEL_9' }

/** Per-kind latency samples (ms) and status accounting, switched on for the measured phase. */
class Recorder {
  measuring = false
  readonly latencies = new Map<string, number[]>()
  serverErrors = 0
  readonly unexpected = new Map<string, number>()
  readonly examples: string[] = []

  record(kind: string, ms: number, status: number, expected: readonly number[], text: string): void {
    // Faults count in warm-up too: a 5xx is never acceptable.
    if (status >= 500) {
      this.serverErrors++
      if (this.examples.length < 10) this.examples.push(`${kind}: ${status} ${text.slice(0, 200)}`)
    } else if (!expected.includes(status)) {
      const key = `${kind} ${status}`
      this.unexpected.set(key, (this.unexpected.get(key) ?? 0) + 1)
      if (this.examples.length < 10) this.examples.push(`${kind}: ${status} ${text.slice(0, 200)}`)
    }
    if (!this.measuring) return
    let samples = this.latencies.get(kind)
    if (!samples) this.latencies.set(kind, (samples = []))
    samples.push(ms)
  }
}

interface Client {
  url: string
  recorder: Recorder
}

/** One timed request; resolves to the status and the parsed body (undefined when not JSON). */
async function call(client: Client, kind: string, expected: readonly number[], method: string, path: string, bearer: string, body?: unknown): Promise<{ status: number; body: any }> {
  const started = performance.now()
  let status: number
  let text: string
  try {
    const response = await fetch(client.url + path, {
      method,
      headers: body === undefined ? { authorization: `Bearer ${bearer}` } : { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    text = await response.text()
    status = response.status
  } catch (error) {
    // A dropped connection counts as a server failure.
    status = 599
    text = String(error)
  }
  client.recorder.record(kind, performance.now() - started, status, expected, text)
  let parsed: unknown
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    parsed = undefined
  }
  return { status, body: parsed }
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!
const OK = [200] as const
const CREATED = [201] as const

interface World {
  smallDatasetId: string
  seededTaskIds: string[]
  writeDatasetId: string
  pilotIds: string[]
  tokens: { admin: string; client: string; pilot: string }
  /** The next job_index in the write dataset, shared by the writers. */
  nextJobIndex: number
  /** Tasks the pilots finished lately (with their log and stats), for the readers. */
  finished: { datasetId: string; taskId: string; logged: boolean }[]
  logBudget: LogBudget
}

/** How many recently finished tasks the readers pick from. */
const FINISHED_KEPT = 256

/** Pilot log text allowed so far: `mbPerSecond` since the phase began, plus one log's worth. */
class LogBudget {
  private startedAt = performance.now()
  posted = 0
  postedBytes = 0

  constructor(private readonly mbPerSecond: number) {}

  restart(): void {
    this.startedAt = performance.now()
    this.posted = 0
    this.postedBytes = 0
  }

  /** Whether `bytes` more fit the budget; counts them when they do. */
  take(bytes: number): boolean {
    const allowed = ((performance.now() - this.startedAt) / 1000) * this.mbPerSecond * 1e6 + PILOT_LOG_MAX_BYTES
    if (this.postedBytes + bytes > allowed) return false
    this.posted++
    this.postedBytes += bytes
    return true
  }
}

async function reader(client: Client, world: World, until: () => boolean): Promise<void> {
  const { smallDatasetId: d, tokens } = world
  while (!until()) {
    const choice = Math.random()
    if (choice < 0.55) await call(client, 'GET /tasks/<id>', OK, 'GET', `/tasks/${pick(world.seededTaskIds)}`, tokens.client)
    else if (choice < 0.75) await call(client, 'GET /datasets/<d>/tasks', OK, 'GET', `/datasets/${d}/tasks`, tokens.client)
    else if (choice < 0.85) await call(client, 'GET task_counts/status', OK, 'GET', `/datasets/${d}/task_counts/status`, tokens.client)
    else if (choice < 0.92) await call(client, 'GET job_counts/status', OK, 'GET', `/datasets/${d}/job_counts/status`, tokens.client)
    else if (world.finished.length > 0) {
      const { datasetId, taskId, logged } = pick(world.finished)
      if (choice < 0.96 && logged) await call(client, 'GET task logs', OK, 'GET', `/datasets/${datasetId}/tasks/${taskId}/logs`, tokens.client)
      else await call(client, 'GET task task_stats', OK, 'GET', `/datasets/${datasetId}/tasks/${taskId}/task_stats`, tokens.client)
    }
  }
}

/** Sizes of a pilot's log of a task. */
const PILOT_LOG_MIN_BYTES = 10 * 1024
const PILOT_LOG_MAX_BYTES = 100 * 1024

/**
 * Output text shaped like a job's log: timestamped lines whose numbers vary, so
 * that it compresses about as well as real output does (gzip takes it to about a
 * quarter), not to nothing. Made once; each log is a slice of it.
 */
const PILOT_OUTPUT = (() => {
  const lines: string[] = []
  let bytes = 0
  for (let i = 0; bytes < 2 * PILOT_LOG_MAX_BYTES; i++) {
    const r = () => Math.floor(Math.random() * 1e6)
    const line = `2026-11-27 21:${String(i % 60).padStart(2, '0')}:${String(r() % 60).padStart(2, '0')},${r() % 1000} INFO photon_propagation event ${r()} energy ${(Math.random() * 1e5).toExponential(3)} GeV om ${r() % 5160} hits ${r() % 400}\n`
    lines.push(line)
    bytes += line.length
  }
  return lines.join('')
})()

function pilotLog(): string {
  const size = PILOT_LOG_MIN_BYTES + Math.floor(Math.random() * (PILOT_LOG_MAX_BYTES - PILOT_LOG_MIN_BYTES + 1))
  const start = Math.floor(Math.random() * (PILOT_OUTPUT.length - size))
  return PILOT_OUTPUT.slice(start, start + size)
}

function logText(): string {
  // Mostly pilot-sized chunks of output, now and then a large one (stored compressed).
  const size = Math.random() < 0.01 ? 128 * 1024 : 100 + Math.floor(Math.random() * 4000)
  return 'processing event 0123456789 status=ok\n'.repeat(Math.ceil(size / 38)).slice(0, size)
}

async function writer(client: Client, world: World, until: () => boolean): Promise<void> {
  const { writeDatasetId: d, tokens } = world
  // This writer's own tasks, which it changes the status of: never queued, so no pilot holds them.
  const ownTasks: string[] = []
  let jobId: string | undefined
  let tasksInJob = 0
  while (!until()) {
    const choice = Math.random()
    if (jobId === undefined || choice < 0.1) {
      const r = await call(client, 'POST /jobs', CREATED, 'POST', '/jobs', tokens.client, { dataset_id: d, job_index: world.nextJobIndex++, submitter: 'soak' })
      if (r.status === 201) {
        jobId = r.body.result
        tasksInJob = 0
      }
    } else if (choice < 0.4) {
      // Every other task is claimable by the pilots; the rest wait on a task that never completes.
      const claimable = tasksInJob % 2 === 0
      const r = await call(client, 'POST /tasks', CREATED, 'POST', '/tasks', tokens.client, {
        dataset_id: d, job_id: jobId, task_index: tasksInJob++, name: claimable ? 'generate' : 'filter',
        depends: claimable ? [] : [NEVER_READY], requirements: REQUIREMENTS,
      })
      if (r.status === 201 && !claimable) ownTasks.push(r.body.result)
    } else if (choice < 0.6 && ownTasks.length > 0) {
      await call(client, 'PUT /tasks/<id>/status', OK, 'PUT', `/tasks/${pick(ownTasks)}/status`, tokens.client, { status: pick(['idle', 'waiting', 'suspended', 'failed']) })
    } else if (choice < 0.85) {
      const taskId = ownTasks.length > 0 ? pick(ownTasks) : undefined
      await call(client, 'POST /logs', CREATED, 'POST', '/logs', tokens.pilot, { data: logText(), dataset_id: d, task_id: taskId, name: pick(['stdout', 'stderr', 'log']) })
    } else {
      await call(client, 'PATCH /pilots/<id>', OK, 'PATCH', `/pilots/${pick(world.pilotIds)}`, tokens.client, { available: { cpu: Math.floor(Math.random() * 8) }, heartbeat: Date.now() })
    }
  }
}

async function pilot(client: Client, world: World, pilotId: string, until: () => boolean): Promise<void> {
  const { tokens } = world
  while (!until()) {
    const claim = await call(client, 'POST /task_actions/process', [200, 404], 'POST', '/task_actions/process', tokens.pilot, { requirements: OFFER })
    if (claim.status === 404) {
      // Nothing queued that fits: refill, as a grid site's client would.
      await call(client, 'POST /task_actions/queue', OK, 'POST', '/task_actions/queue', tokens.client, { num_tasks: 50 })
      continue
    }
    if (claim.status !== 200) continue
    const taskId = claim.body.task_id as string
    const datasetId = claim.body.dataset_id as string
    await call(client, 'PATCH /pilots/<id>', OK, 'PATCH', `/pilots/${pilotId}`, tokens.pilot, { tasks: [taskId] })
    const log = pilotLog()
    const logged = world.logBudget.take(log.length)
    if (logged) await call(client, 'POST /logs (pilot, 10-100 KB)', CREATED, 'POST', '/logs', tokens.pilot, { data: log, dataset_id: datasetId, task_id: taskId, name: 'stdout' })
    const timeUsed = 60 + Math.random() * 3600
    await call(client, 'POST /tasks/<id>/task_stats', CREATED, 'POST', `/tasks/${taskId}/task_stats`, tokens.pilot, {
      dataset_id: datasetId, hostname: `node${Math.floor(Math.random() * 500)}.soak.example.org`, time_used: timeUsed, memory_used_mb: Math.random() * 4000, error_summary: '',
    })
    // One in six runs fails and is reset; the rest complete.
    if (Math.random() < 1 / 6) await call(client, 'POST reset', OK, 'POST', `/tasks/${taskId}/task_actions/reset`, tokens.pilot, { time_used: timeUsed })
    else await call(client, 'POST complete', OK, 'POST', `/tasks/${taskId}/task_actions/complete`, tokens.pilot, { time_used: timeUsed })
    await call(client, 'PATCH /pilots/<id>', OK, 'PATCH', `/pilots/${pilotId}`, tokens.pilot, { tasks: [] })
    world.finished.push({ datasetId, taskId, logged })
    if (world.finished.length > FINISHED_KEPT) world.finished.shift()
  }
}

/** Sets up the world through the API, on a database seeded through the real schema. */
async function prepare(proc: Proc, db: string, seeded: { small: string; taskIds: string[] }, options: SoakOptions): Promise<World> {
  const tokens = { admin: token(db, 'admin'), client: token(db, 'client'), pilot: token(db, 'pilot') }
  const setup: Client = { url: proc.url, recorder: new Recorder() }
  const must = async (method: string, path: string, body: unknown) => {
    const r = await call(setup, 'setup', [200, 201], method, path, tokens.admin, body)
    if (r.status >= 300) throw new Error(`setup ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`)
    return String(r.body.result ?? '').split('/').pop()!
  }
  await must('POST', '/groups', { name: '/soak' })
  await must('POST', '/groups', { name: '/bench' })
  const writeDatasetId = await must('POST', '/datasets', { description: 'soak writes', jobs_submitted: 1_000_000, tasks_submitted: 10_000_000, group: '/soak' })
  // The readers' token is of the seeded datasets' group.
  await must('PUT', `/auths/${writeDatasetId}`, { read_groups: ['/soak', '/bench'], write_groups: ['/soak'] })
  const gridId = await must('POST', '/grids', { host: 'soak.example.org', queues: { soak: {} }, version: '2.7' })
  const pilotIds: string[] = []
  for (let i = 0; i < 32; i++) pilotIds.push(await must('POST', '/pilots', { queue_host: 'soak.example.org', queue_version: '2.7', resources: OFFER, grid_id: gridId }))
  return {
    smallDatasetId: seeded.small, seededTaskIds: seeded.taskIds, writeDatasetId, pilotIds, tokens, nextJobIndex: 0,
    finished: [], logBudget: new LogBudget(options.logMbPerSecond),
  }
}

/** Runs every worker until `seconds` have passed. */
async function phase(url: string, recorder: Recorder, world: World, options: SoakOptions, seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000
  const until = () => performance.now() >= deadline
  const client: Client = { url, recorder }
  const workers: Promise<void>[] = []
  for (let i = 0; i < options.readers; i++) workers.push(reader(client, world, until))
  for (let i = 0; i < options.writers; i++) workers.push(writer(client, world, until))
  for (let i = 0; i < options.pilots; i++) workers.push(pilot(client, world, world.pilotIds[i % world.pilotIds.length]!, until))
  const started = performance.now()
  await Promise.all(workers)
  return (performance.now() - started) / 1000
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { dir, cleanup } = tempDir('soak')
  const db = `${dir}/iceprod.sqlite`
  try {
    const seeded = seed(db, { ...SEEDED, status: (i) => (i < SMALL_TASKS ? 'idle' : 'waiting'), requirements: () => REQUIREMENTS })
    const proc = await startProject(db)
    let cpu: ReturnType<typeof cpuShare> | undefined
    let outcome: Omit<SoakResult, 'cpu'>
    try {
      const world = await prepare(proc, db, { small: seeded.datasetIds[0]!, taskIds: seeded.taskIds }, options)
      const recorder = new Recorder()
      cpu = cpuShare()
      await phase(proc.url, recorder, world, options, options.warmupSeconds)
      world.logBudget.restart()
      const rssAfterWarmupMb = proc.rssMb()
      let rssPeakMb = rssAfterWarmupMb
      const samples: number[] = [rssAfterWarmupMb]
      const sampler = setInterval(() => {
        const rss = proc.rssMb()
        samples.push(rss)
        rssPeakMb = Math.max(rssPeakMb, rss)
      }, 1000)
      recorder.measuring = true
      let elapsed: number
      try {
        elapsed = await phase(proc.url, recorder, world, options, options.seconds)
      } finally {
        clearInterval(sampler)
      }
      recorder.measuring = false
      samples.push(proc.rssMb())
      rssPeakMb = Math.max(rssPeakMb, ...samples)
      // The heap breathes by several MB between collections: medians over a window at
      // each end (a minute, one sample a second) measure growth, where two single
      // readings would measure the breathing.
      const window = Math.max(3, Math.min(60, Math.floor(samples.length / 10)))
      const rssStartMb = median(samples.slice(0, window))
      const rssEndMb = median(samples.slice(-window))

      const kinds: Record<string, KindResult> = {}
      let requests = 0
      for (const [kind, samples] of [...recorder.latencies].sort(([a], [b]) => a.localeCompare(b))) {
        requests += samples.length
        kinds[kind] = { requests: samples.length, p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99) }
      }
      const rssGrowthPercent = ((rssEndMb - rssStartMb) / rssStartMb) * 100
      const unexpected = Object.fromEntries(recorder.unexpected)
      const failures: string[] = []
      if (recorder.serverErrors > 0) failures.push(`${recorder.serverErrors} answers were 5xx or dropped connections`)
      if (recorder.unexpected.size > 0) failures.push(`unexpected statuses: ${JSON.stringify(unexpected)}`)
      if (!(rssGrowthPercent < RSS_GROWTH_TARGET_PERCENT)) failures.push(`RSS grew ${rssGrowthPercent.toFixed(1)}% (target < ${RSS_GROWTH_TARGET_PERCENT}%)`)
      if (recorder.examples.length > 0) failures.push(...recorder.examples.map((example) => `  e.g. ${example}`))
      outcome = {
        seconds: elapsed,
        requests,
        requestsPerSec: requests / elapsed,
        kinds,
        serverErrors: recorder.serverErrors,
        unexpected,
        rssAfterWarmupMb,
        rssStartMb,
        rssEndMb,
        rssWindowSeconds: window,
        rssPeakMb,
        rssTimelineMb: Array.from({ length: 10 }, (_, i) => samples[Math.floor(((i + 1) * samples.length) / 10) - 1] ?? NaN),
        rssGrowthPercent,
        pilotLogs: world.logBudget.posted,
        pilotLogMb: world.logBudget.postedBytes / 1e6,
        failures,
      }
    } finally {
      await proc.stop()
    }
    // Read once the server has exited: its CPU time counts as the benchmark's own only then.
    return { ...outcome, cpu: cpu!.stop() }
  } finally {
    cleanup()
  }
}

export function printSoak(options: SoakOptions, result: SoakResult): void {
  const lines: Record<string, string | number> = {
    workers: `${options.readers} readers, ${options.writers} writers, ${options.pilots} pilots (warm-up ${options.warmupSeconds} s)`,
    'measured seconds': result.seconds,
    'total requests': result.requests,
    'requests/s': result.requestsPerSec,
    '5xx or dropped': result.serverErrors,
  }
  for (const [kind, k] of Object.entries(result.kinds)) lines[kind] = `${k.requests} req, p50 ${k.p50Ms.toFixed(2)} ms, p99 ${k.p99Ms.toFixed(2)} ms`
  lines['server RSS after warm-up'] = `${result.rssAfterWarmupMb.toFixed(1)} MB`
  lines['pilot logs (10-100 KB)'] = `${result.pilotLogs} logs, ${result.pilotLogMb.toFixed(0)} MB of text (at most ${options.logMbPerSecond} MB/s)`
  lines['server RSS at start (median)'] = `${result.rssStartMb.toFixed(1)} MB over the first ${result.rssWindowSeconds} s of the run`
  lines['server RSS at end (median)'] = `${result.rssEndMb.toFixed(1)} MB over the last ${result.rssWindowSeconds} s (peak ${result.rssPeakMb.toFixed(1)} MB)`
  lines['server RSS through the run'] = result.rssTimelineMb.map((mb) => mb.toFixed(0)).join(' ') + ' MB'
  lines[`RSS growth (target < ${RSS_GROWTH_TARGET_PERCENT}%)`] = `${result.rssGrowthPercent.toFixed(1)}%`
  lines.result = result.failures.length === 0 ? 'PASSED' : 'FAILED'
  report(`soak: ${Math.round(result.seconds)} s of mixed traffic on loopback`, lines)
  printCpuShare(result.cpu)
  for (const failure of result.failures) console.log(`  ${failure}`)
  // The lines bench/run.ts gathers into its summary.
  printResult({
    target: 'soak: 5xx',
    figure: `${result.serverErrors} in ${result.requests} requests (${fmt(result.requestsPerSec)} req/s)`,
    goal: '0',
    met: result.serverErrors === 0 && Object.keys(result.unexpected).length === 0,
  })
  printResult({
    target: 'soak: server RSS growth',
    figure: `${fmt(result.rssGrowthPercent)}% (${fmt(result.rssStartMb)} -> ${fmt(result.rssEndMb)} MB)`,
    goal: `< ${RSS_GROWTH_TARGET_PERCENT}%`,
    met: result.rssGrowthPercent < RSS_GROWTH_TARGET_PERCENT,
  })
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      readers: { type: 'string', default: '4' },
      writers: { type: 'string', default: '3' },
      pilots: { type: 'string', default: '3' },
      'log-mb': { type: 'string', default: '2' },
    },
  })
  const number = (name: 'seconds' | 'warmup' | 'readers' | 'writers' | 'pilots' | 'log-mb', min: number, fallback?: string, integer = true) => {
    const raw = values[name] ?? fallback
    const value = Number(raw)
    if (!(integer ? Number.isInteger(value) : Number.isFinite(value)) || value < min) throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${raw}`)
    return value
  }
  const options: SoakOptions = {
    seconds: number('seconds', 1, values.quick ? '60' : '600'),
    warmupSeconds: number('warmup', 0, '15'),
    readers: number('readers', 0),
    writers: number('writers', 0),
    pilots: number('pilots', 0),
    logMbPerSecond: number('log-mb', 0, undefined, false),
  }
  const result = await runSoak(options)
  printSoak(options, result)
  if (result.failures.length > 0) process.exit(1)
}
