/**
 * Benchmark helpers: seed a database through the real schema, start the project
 * and a baseline as separate processes on loopback, drive them with wrk, and
 * compare A/B/A/B medians measured in the same run.
 */
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { openDatabase, closeDatabase } from '../src/db'
import { newId, timestamp } from '../src/db/documents'

export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-0123456789'

export function ensureWrk(): string {
  const found = Bun.which('wrk')
  if (found) return found
  console.log('installing wrk with apt-get')
  const r = Bun.spawnSync(['sh', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk'], { stdout: 'inherit', stderr: 'inherit' })
  if (r.exitCode !== 0 || !Bun.which('wrk')) throw new Error('wrk is needed: apt-get install wrk')
  return Bun.which('wrk')!
}

export function tempDir(name: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `iceprod-bench-${name}-`))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

export interface SeedOptions {
  datasets: number
  jobsPerDataset: number
  tasksPerJob: number
  /** Status of each task, by its overall index. */
  status?: (i: number) => string
  requirements?: (i: number) => Record<string, unknown>
}

export interface Seeded {
  datasetIds: string[]
  taskIds: string[]
}

/** Fills a new database with datasets, jobs and tasks shaped like the API writes them. */
export function seed(dbPath: string, options: SeedOptions): Seeded {
  const { sqlite } = openDatabase(dbPath)
  const datasetIds: string[] = []
  const taskIds: string[] = []
  const now = timestamp()
  const insertDataset = sqlite.prepare('INSERT INTO datasets (dataset_id, doc) VALUES (?, ?)')
  const insertRule = sqlite.prepare('INSERT INTO auths (dataset_id, doc) VALUES (?, ?)')
  const insertJob = sqlite.prepare('INSERT INTO jobs (job_id, doc) VALUES (?, ?)')
  const insertTask = sqlite.prepare('INSERT INTO tasks (task_id, doc) VALUES (?, ?)')
  let i = 0
  for (let d = 0; d < options.datasets; d++) {
    sqlite.transaction(() => {
      const datasetId = newId()
      datasetIds.push(datasetId)
      const dataset = d + 1
      sqlite.run("UPDATE sequences SET value = ? WHERE name = 'dataset'", [dataset])
      insertDataset.run(datasetId, JSON.stringify({ dataset_id: datasetId, dataset, description: 'bench', jobs_submitted: options.jobsPerDataset, tasks_submitted: options.jobsPerDataset * options.tasksPerJob, group: '/bench', priority: 0, debug: false, status: 'processing', start_date: now, username: 'bench' }))
      insertRule.run(datasetId, JSON.stringify({ read_groups: ['/bench'], write_groups: ['/bench'] }))
      for (let j = 0; j < options.jobsPerDataset; j++) {
        const jobId = newId()
        insertJob.run(jobId, JSON.stringify({ job_id: jobId, dataset_id: datasetId, job_index: j, status: 'processing', status_changed: now }))
        for (let k = 0; k < options.tasksPerJob; k++, i++) {
          const taskId = newId()
          taskIds.push(taskId)
          insertTask.run(taskId, JSON.stringify({
            task_id: taskId, dataset_id: datasetId, job_id: jobId, job_index: j, task_index: k, name: k === 0 ? 'generate' : 'filter',
            depends: [], requirements: options.requirements?.(i) ?? { cpu: 1, memory: 1.5 },
            status: options.status?.(i) ?? 'waiting', status_changed: now, failures: 0, evictions: 0, walltime: 0, walltime_err: 0, walltime_err_n: 0,
          }))
        }
      }
    })()
  }
  closeDatabase(sqlite)
  return { datasetIds, taskIds }
}

export interface Proc {
  url: string
  port: number
  pid: number
  rssMb(): number
  stop(): Promise<void>
}

async function waitUp(url: string, proc: ReturnType<typeof Bun.spawn>, path = '/healthz') {
  for (let i = 0; i < 400; i++) {
    if (await fetch(url + path).then(() => true, () => false)) return
    if (proc.exitCode !== null) throw new Error(`process exited with ${proc.exitCode}`)
    await Bun.sleep(25)
  }
  throw new Error(`${url} did not start`)
}

export interface SpawnOptions {
  /** The path polled until it answers (default /healthz). */
  readyPath?: string
  /** A file for the server's stderr (for servers that log every request); default: this script's stderr. */
  stderrFile?: string
  /** Pin the server, all its threads, to these CPUs (`taskset -c` list). */
  cpus?: string
}

/** Starts a server on a free port and waits until it answers. */
export async function spawnServer(cmd: string[], env: Record<string, string> = {}, options: SpawnOptions = {}): Promise<Proc> {
  const port = await freePort()
  const pin = options.cpus === undefined ? [] : ['taskset', '-c', options.cpus]
  const proc = Bun.spawn([...pin, ...cmd, '--port', String(port)], {
    env: { ...process.env, ICEPROD_JWT_SECRET: BENCH_SECRET, ICEPROD_LOG_LEVEL: 'error', ...env },
    stdout: 'ignore',
    stderr: options.stderrFile === undefined ? 'inherit' : Bun.file(options.stderrFile),
  })
  const url = `http://127.0.0.1:${port}`
  await waitUp(url, proc, options.readyPath ?? '/healthz')
  return {
    url,
    port,
    pid: proc.pid,
    rssMb: () => memoryOf(proc.pid).rssMb,
    async stop() {
      proc.kill('SIGTERM')
      await proc.exited
    },
  }
}

/** The project's server from source, on `db`. */
export const startProject = (db: string, env: Record<string, string> = {}) => spawnServer(['bun', 'src/cli.ts', 'serve', '--db', db], env)

export function token(db: string, role: string): string {
  const r = Bun.spawnSync(['bun', 'src/cli.ts', 'token', '--db', db, '--username', 'bench', '--role', role, '--groups', '/bench'], {
    env: { ...process.env, ICEPROD_JWT_SECRET: BENCH_SECRET },
  })
  if (r.exitCode !== 0) throw new Error(r.stderr.toString())
  return r.stdout.toString().trim()
}

export interface WrkResult {
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  non2xx: number
  errors: number
}

const toMs = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1)

/** Runs wrk once; `script` is Lua text (written to a temp file). See `wrkRun` for the full reading. */
export function wrk(url: string, options: { connections: number; seconds: number; threads?: number; script?: string }): WrkResult {
  const { requestsPerSec, p50Ms, p99Ms, non2xx, errors } = wrkRun(url, options)
  return { requestsPerSec, p50Ms, p99Ms, non2xx, errors }
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

/** A Lua script for wrk that requests random paths from `paths`, with headers. */
export function randomPathsScript(paths: string[], headers: Record<string, string>): string {
  const list = paths.map((p) => `"${p}"`).join(',\n')
  const hdrs = Object.entries(headers).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`).join('\n')
  return `${hdrs}
local paths = {${list}}
local n = #paths
math.randomseed(os.time())
request = function()
  return wrk.format(nil, paths[math.random(n)])
end
`
}

export function report(title: string, lines: Record<string, string | number>) {
  console.log(`\n== ${title}`)
  for (const [k, v] of Object.entries(lines)) console.log(`  ${k.padEnd(34)} ${typeof v === 'number' ? Number(v.toFixed(2)) : v}`)
}

export { Database }

// ---- Helpers for the claims, counts, big-list, creation and startup targets ----

/** Where seeded databases are kept between runs (they take tens of seconds to build). */
export const SEED_CACHE_DIR = join(tmpdir(), 'iceprod-bench-cache')

export interface CachedSeed extends Seeded {
  /** The seeded database file; never serve it directly, copy it (see copyDatabase). */
  path: string
  /** True when this call built it, false when it was reused. */
  built: boolean
}

/**
 * A database seeded with `options` (then changed by `finish`, run once on the
 * open database), built once and reused: the cache key covers the options,
 * the source of their functions and of `finish`, and the migrations, so a
 * schema change or a different shape seeds a new file.
 */
export function seedCached(name: string, options: SeedOptions, finish?: (sqlite: Database) => void): CachedSeed {
  const { readdirSync, readFileSync, existsSync, mkdirSync, renameSync } = require('node:fs') as typeof import('node:fs')
  const migrationsDir = join(import.meta.dir, '..', 'migrations')
  const hasher = new Bun.CryptoHasher('sha256')
  hasher.update(JSON.stringify(options, (_key, value) => (typeof value === 'function' ? String(value) : value)))
  hasher.update(String(finish ?? ''))
  hasher.update(String(seed))
  for (const file of readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort()) hasher.update(readFileSync(join(migrationsDir, file)))
  const key = `${name}-${hasher.digest('hex').slice(0, 16)}`
  mkdirSync(SEED_CACHE_DIR, { recursive: true })
  const path = join(SEED_CACHE_DIR, `${key}.sqlite`)
  const idsPath = join(SEED_CACHE_DIR, `${key}.json`)
  if (existsSync(path) && existsSync(idsPath)) {
    return { path, built: false, ...(JSON.parse(readFileSync(idsPath, 'utf8')) as Seeded) }
  }
  // Built under a temporary name, so an interrupted seed is never mistaken for a finished one.
  const building = `${path}.building-${process.pid}`
  const started = performance.now()
  const seeded = seed(building, options)
  if (finish) {
    const { sqlite } = openDatabase(building)
    finish(sqlite)
    closeDatabase(sqlite)
  }
  writeFileSync(idsPath, JSON.stringify(seeded))
  renameSync(building, path)
  console.log(`seeded ${seeded.taskIds.length} tasks into ${path} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  return { path, built: true, ...seeded }
}

/** A private copy of a (closed, checkpointed) database file in `dir`. */
export function copyDatabase(source: string, dir: string, name = 'iceprod.sqlite'): string {
  const { copyFileSync } = require('node:fs') as typeof import('node:fs')
  const target = join(dir, name)
  removeDatabase(target)
  copyFileSync(source, target)
  return target
}

/** Removes a database file and its WAL and shared-memory files. */
export function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
}

export interface Memory {
  /** Resident set size now (VmRSS), MB. */
  rssMb: number
  /** Peak resident set size since the process started (VmHWM), MB. */
  hwmMb: number
}

/** VmRSS and VmHWM of a process from /proc; NaN when it is gone. */
export function memoryOf(pid: number): Memory {
  try {
    const status = (require('node:fs') as typeof import('node:fs')).readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? NaN)
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 }
  } catch {
    return { rssMb: NaN, hwmMb: NaN }
  }
}

/**
 * Samples a process's memory every `intervalMs` from a timer, until `stop()`,
 * which returns the highest VmRSS seen and the final VmHWM. The sampler runs
 * on the caller's event loop, so the caller must keep awaiting (e.g. a fetch).
 */
export function sampleMemory(pid: number, intervalMs = 10): { stop(): { peakRssMb: number; hwmMb: number; samples: number } } {
  let peakRssMb = 0
  let samples = 0
  const take = () => {
    const m = memoryOf(pid)
    if (m.rssMb > peakRssMb) peakRssMb = m.rssMb
    samples++
  }
  take()
  const timer = setInterval(take, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      take()
      return { peakRssMb, hwmMb: memoryOf(pid).hwmMb, samples }
    },
  }
}

export interface WrkRun extends WrkResult {
  /** Requests completed (any status), from "N requests in Xs". */
  requests: number
  /** The measured duration in seconds, from the same line. */
  seconds: number
  /** Completed requests with a 2xx or 3xx status. */
  succeeded: number
  output: string
}

interface WrkOptions {
  connections: number
  seconds: number
  threads?: number
  script?: string
  /** wrk counts an answer slower than its timeout (2 s by default) as a socket error. */
  timeoutSeconds?: number
  /** Pin wrk to these CPUs (taskset). */
  cpus?: string
}

/** The wrk command line for `url`, and a cleanup that removes its script file. */
function wrkCommand(url: string, options: WrkOptions): { args: string[]; cleanup(): void } {
  const args = [ensureWrk(), '-t', String(options.threads ?? 1), '-c', String(options.connections), '-d', `${options.seconds}s`, '--latency']
  if (options.cpus !== undefined) args.unshift('taskset', '-c', options.cpus)
  if (options.timeoutSeconds !== undefined) args.push('--timeout', `${options.timeoutSeconds}s`)
  let scriptFile: string | undefined
  if (options.script) {
    scriptFile = join(tmpdir(), `wrk-${process.pid}-${Math.random().toString(36).slice(2)}.lua`)
    writeFileSync(scriptFile, options.script)
    args.push('-s', scriptFile)
  }
  args.push(url)
  return { args, cleanup: () => scriptFile && rmSync(scriptFile, { force: true }) }
}

/** Everything wrk reports: rate, latency, request count, duration, failures. */
function readWrkOutput(output: string, stderr: string): WrkRun {
  const total = output.match(/(\d+) requests in ([\d.]+)(us|ms|s|m)/)
  if (!total) throw new Error(`wrk failed: ${output}${stderr}`)
  const unit = total[3]!
  const seconds = Number(total[2]) * (unit === 'us' ? 1e-6 : unit === 'ms' ? 1e-3 : unit === 'm' ? 60 : 1)
  const rps = Number(output.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN)
  const p50 = output.match(/50%\s+([\d.]+)(us|ms|s)/)
  const p99 = output.match(/99%\s+([\d.]+)(us|ms|s)/)
  const non2xx = Number(output.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0)
  const errs = output.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/)
  const requests = Number(total[1])
  return {
    requestsPerSec: rps,
    p50Ms: p50 ? toMs(p50[1]!, p50[2]!) : NaN,
    p99Ms: p99 ? toMs(p99[1]!, p99[2]!) : NaN,
    non2xx,
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    requests,
    seconds,
    succeeded: requests - non2xx,
    output,
  }
}

/** Runs wrk once and reads everything it reports. */
export function wrkRun(url: string, options: WrkOptions): WrkRun {
  const { args, cleanup } = wrkCommand(url, options)
  try {
    const r = Bun.spawnSync(args, { stdout: 'pipe', stderr: 'pipe' })
    return readWrkOutput(r.stdout.toString(), r.stderr.toString())
  } finally {
    cleanup()
  }
}

/** `wrkRun` without blocking, so that several can run side by side. */
export async function wrkRunAsync(url: string, options: WrkOptions): Promise<WrkRun> {
  const { args, cleanup } = wrkCommand(url, options)
  try {
    const proc = Bun.spawn(args, { stdout: 'pipe', stderr: 'pipe' })
    const [output, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()])
    return readWrkOutput(output, stderr)
  } finally {
    cleanup()
  }
}

/** One measured target, as printed for bench/run.ts. */
export interface BenchResult {
  target: string
  /** The measured figure with its unit, e.g. "6123 claims/s". */
  figure: string
  /** The goal, e.g. ">= 5000 claims/s". */
  goal: string
  met: boolean
  /** The baseline's figure measured in the same run, when there is one. */
  baseline?: string
}

/** Marks the lines bench/run.ts collects into its summary. */
export const RESULT_PREFIX = 'BENCH-RESULT '

export function printResult(result: BenchResult): void {
  console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`)
}

/** The raw Bun.serve + bun:sqlite baseline for the claims, counts, list and creation targets. */
export const startBaseline = (db: string, env: Record<string, string> = {}) => spawnServer(['bun', 'bench/baseline-server.ts', '--db', db], env)

/** Milliseconds and counts printed without noise: 1234.5678 -> "1235", 3.14159 -> "3.14". */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  return Math.abs(value) >= 100 ? String(Math.round(value)) : String(Number(value.toFixed(2)))
}

export interface LoopsOutcome {
  /** Requests answered, by HTTP status. */
  byStatus: Map<number, number>
  /** From the first request sent to the last answer received. */
  seconds: number
}

/**
 * `concurrency` loops, each sending one request at a time over keep-alive
 * fetch until `seconds` have passed (every answer is awaited, so nothing is
 * left in flight), handing each answer to `onAnswer`.
 */
export async function fetchLoops(options: {
  concurrency: number
  seconds: number
  request: (loop: number, n: number) => Request
  onAnswer?: (status: number, body: string) => void
}): Promise<LoopsOutcome> {
  const byStatus = new Map<number, number>()
  const started = performance.now()
  const deadline = started + options.seconds * 1000
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, loop) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const response = await fetch(options.request(loop, n))
        const body = await response.text()
        byStatus.set(response.status, (byStatus.get(response.status) ?? 0) + 1)
        options.onAnswer?.(response.status, body)
      }
    }),
  )
  return { byStatus, seconds: (performance.now() - started) / 1000 }
}

/** Servers started through `tracked`, stopped by `stopTracked` or killed when the script exits. */
const trackedServers = new Set<Proc>()
process.on('exit', () => {
  for (const server of trackedServers) {
    try {
      process.kill(server.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
})

/** A started server that is killed with the script even if the script fails halfway. */
export async function tracked(starting: Promise<Proc>): Promise<Proc> {
  const server = await starting
  trackedServers.add(server)
  const stop = server.stop
  server.stop = async () => {
    trackedServers.delete(server)
    await stop()
  }
  return server
}

/** Stops every server still running from `tracked`. */
export async function stopTracked(): Promise<void> {
  await Promise.all([...trackedServers].map((server) => server.stop()))
}

/** Busy CPU time of the whole machine, in clock ticks (all CPUs, from /proc/stat). */
function machineBusyTicks(): number {
  const { readFileSync } = require('node:fs') as typeof import('node:fs')
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal ...: everything but idle and iowait
  return cpu.reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!
}

/** CPU time of this process and of its children that have exited and been waited for, in clock ticks. */
function ownTicks(): number {
  const { readFileSync } = require('node:fs') as typeof import('node:fs')
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[11..14] are utime, stime, cutime, cstime (stat fields 14-17)
  return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
}

export interface CpuShare {
  seconds: number
  /** Cores kept busy by this script, its servers and load generators (once they have exited). */
  ownCores: number
  /** Cores kept busy by everything else on the machine: other people's work, the kernel. */
  otherCores: number
}

/**
 * Measures how much of the machine this script used and how much other
 * processes used meanwhile, so a figure can be read against the load it was
 * measured under. Stop it only after every server and load generator has exited.
 */
export function cpuShare(): { stop(): CpuShare } {
  const ticksPerSecond = 100 // USER_HZ on Linux
  const started = performance.now()
  const busy0 = machineBusyTicks()
  const own0 = ownTicks()
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000
      const busy = machineBusyTicks() - busy0
      const own = ownTicks() - own0
      return { seconds, ownCores: own / ticksPerSecond / seconds, otherCores: Math.max(0, busy - own) / ticksPerSecond / seconds }
    },
  }
}

/** Prints how busy the machine was with other work during the script (see cpuShare). */
export function printCpuShare(share: CpuShare): void {
  console.log(`  machine: ${navigator.hardwareConcurrency} cores; over ${fmt(share.seconds)} s this benchmark used ${fmt(share.ownCores)} cores, other processes ${fmt(share.otherCores)} cores on average`)
  console.log(`BENCH-CPU ${JSON.stringify(share)}`)
}

/**
 * Waits, up to `maxSeconds`, until the machine has been nearly idle (less than
 * `maxCores` busy) for a 2-second window, since on a shared machine another
 * person's build or test run halves what a benchmark measures. Call it while
 * nothing of the benchmark's own is running. Returns the cores busy in the last window.
 */
export async function waitForQuiet(maxSeconds: number, maxCores = 0.25): Promise<number> {
  const deadline = performance.now() + maxSeconds * 1000
  for (;;) {
    const busy0 = machineBusyTicks()
    await Bun.sleep(2000)
    const cores = (machineBusyTicks() - busy0) / 100 / 2
    if (cores < maxCores || performance.now() >= deadline) return cores
  }
}

/** One wrk run reduced to what the A/B reports compare. */
export interface RateRun {
  rate: number
  p50Ms: number
  p99Ms: number
}

/** Which server of an A/B comparison. */
export type Side = 'project' | 'baseline'

/** `rounds` rounds of `run`, project then baseline, each run printed with `unit`; the runs of each side. */
export async function abRounds(rounds: number, unit: string, run: (side: Side) => Promise<RateRun>): Promise<Record<Side, RateRun[]>> {
  const runs: Record<Side, RateRun[]> = { project: [], baseline: [] }
  for (let round = 0; round < rounds; round++) {
    for (const side of ['project', 'baseline'] as const) {
      const r = await run(side)
      runs[side].push(r)
      console.log(`  wrk round ${round + 1} ${side}: ${fmt(r.rate)} ${unit}, p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms`)
    }
  }
  return runs
}

/** The report lines of alternating project/baseline wrk runs: median rates, each run, median latencies. */
export function abWrkLines(unit: string, runs: { project: RateRun[]; baseline: RateRun[] }): Record<string, string | number> {
  const lines: Record<string, string | number> = {}
  for (const side of ['project', 'baseline'] as const) lines[`${side} ${unit}, wrk (median)`] = median(runs[side].map((r) => r.rate))
  for (const side of ['project', 'baseline'] as const) lines[`${side} wrk runs`] = runs[side].map((r) => Math.round(r.rate)).join(' ')
  for (const side of ['project', 'baseline'] as const) {
    lines[`${side} wrk p50 / p99 ms (median)`] = `${fmt(median(runs[side].map((r) => r.p50Ms)))} / ${fmt(median(runs[side].map((r) => r.p99Ms)))}`
  }
  return lines
}

/**
 * The flags of the A/B load benchmarks: --quick, --seconds (default
 * `defaultSeconds`), --rounds, --connections.
 * Three rounds give a median that one slow minute of the VM cannot move alone.
 */
export function loadRunOptions(defaultConnections: number, defaultSeconds = 10) {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, seconds: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string', default: String(defaultConnections) } },
  })
  const quick = values.quick
  return {
    quick,
    seconds: Number(values.seconds ?? (quick ? 2 : defaultSeconds)),
    rounds: Number(values.rounds ?? (quick ? 1 : 3)),
    connections: Number(values.connections),
  }
}

/** One round of `sharedCoreWrk`: what each server answered while both were loaded. */
export interface SharedCoreRound {
  aRequests: number
  bRequests: number
  /** a/b requests answered: the inverse ratio of their costs per request. */
  ratio: number
  /** Server CPU time per request answered, in microseconds. */
  aCpuMicros: number
  bCpuMicros: number
  /** CPU time both servers used per second of the round: near 1 when their shared core was the limit, not the load generators. */
  serverCores: number
}

/**
 * Compares two servers' cost per request by loading both at once while they
 * share one core (start both with the same `cpus`): the kernel gives each the
 * same CPU time, so the ratio of requests answered is the inverse ratio of
 * their costs per request. Each round runs two wrk -t1 processes side by side
 * on `wrkCpus`, one per server, with `connections` each; the first round is
 * a warm-up. Both servers see the same machine at the same moment, so a VM
 * whose speed drifts by tens of percent from one minute to the next (as this
 * one does) moves both alike; measured one after the other, the same two
 * servers differ by up to 30% from run to run.
 */
export async function sharedCoreWrk(a: Proc, b: Proc, options: { rounds: number; seconds: number; connections: number; script?: string; wrkCpus: string }): Promise<SharedCoreRound[]> {
  const rounds: SharedCoreRound[] = []
  const load = async (server: Proc) => {
    const run = await wrkRunAsync(server.url, { ...options, cpus: options.wrkCpus })
    if (run.non2xx || run.errors) throw new Error(`${server.url}: ${run.non2xx + run.errors} non-2xx answers or socket errors`)
    return run.requests
  }
  for (let round = 0; round <= options.rounds; round++) {
    const cpuA = cpuSecondsOf(a.pid)
    const cpuB = cpuSecondsOf(b.pid)
    const [aRequests, bRequests] = await Promise.all([load(a), load(b)])
    if (round === 0) continue
    rounds.push({
      aRequests,
      bRequests,
      ratio: aRequests / bRequests,
      aCpuMicros: ((cpuSecondsOf(a.pid) - cpuA) * 1e6) / aRequests,
      bCpuMicros: ((cpuSecondsOf(b.pid) - cpuB) * 1e6) / bRequests,
      serverCores: (cpuSecondsOf(a.pid) - cpuA + cpuSecondsOf(b.pid) - cpuB) / options.seconds,
    })
  }
  return rounds
}

/**
 * `sharedCoreWrk` over `pairs` fresh pairs of server processes, `rounds`
 * rounds each. Within one pair of processes the rounds agree closely, but
 * pairs differ by a few percent from each other (from something fixed when
 * a process starts: what its JIT compiled, where its memory landed), so a
 * figure from one pair is one sample of that spread; the median over several
 * pairs is not.
 * `start(pair)` starts both servers on the shared core; they are stopped
 * after their rounds. Returns every round, and the median ratio of each pair.
 */
export async function sharedCorePairs(
  start: (pair: number) => Promise<[Proc, Proc]>,
  options: { pairs: number; rounds: number; seconds: number; connections: number; script?: string; wrkCpus: string },
): Promise<{ rounds: SharedCoreRound[]; pairRatios: number[] }> {
  const rounds: SharedCoreRound[] = []
  const pairRatios: number[] = []
  for (let pair = 0; pair < options.pairs; pair++) {
    const [a, b] = await start(pair)
    try {
      const measured = await sharedCoreWrk(a, b, options)
      rounds.push(...measured)
      pairRatios.push(median(measured.map((r) => r.ratio)))
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  }
  return { rounds, pairRatios }
}

/** The report lines of `sharedCoreWrk` rounds. */
export function sharedCoreLines(aName: string, bName: string, rounds: SharedCoreRound[], seconds: number): Record<string, string | number> {
  return {
    [`${aName} req/s (median)`]: median(rounds.map((r) => r.aRequests / seconds)),
    [`${bName} req/s (median)`]: median(rounds.map((r) => r.bRequests / seconds)),
    [`${aName} CPU µs/request (median)`]: median(rounds.map((r) => r.aCpuMicros)),
    [`${bName} CPU µs/request (median)`]: median(rounds.map((r) => r.bCpuMicros)),
    'round ratios': rounds.map((r) => r.ratio.toFixed(3)).join(' '),
    'shared core busy (should be ~1)': median(rounds.map((r) => r.serverCores)),
  }
}

/** User + system CPU seconds a process has used so far. */
export function cpuSecondsOf(pid: number): number {
  const { readFileSync } = require('node:fs') as typeof import('node:fs')
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * What the two lookup comparisons (bench/lookup.ts, bench/observability.ts)
 * share: their flags (--seconds, --rounds, --pairs, --quick), a database of 100k tasks
 * (10k with --quick) and a wrk script requesting GET /tasks/<id> for random
 * ids spread over all of them, with a system token.
 */
export function lookupSetup(name: string) {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' }, pairs: { type: 'string', default: '6' }, quick: { type: 'boolean', default: false } },
  })
  const { dir, cleanup } = tempDir(name)
  const db = `${dir}/iceprod.sqlite`
  const { taskIds } = seed(db, { datasets: 10, jobsPerDataset: 100, tasksPerJob: values.quick ? 10 : 100 })
  const sample = taskIds.filter((_, i) => i % 10 === 0)
  return {
    seconds: values.quick ? 2 : Number(values.seconds),
    rounds: values.quick ? 1 : Number(values.rounds),
    /** Fresh pairs of server processes (see sharedCorePairs). */
    pairs: values.quick ? 2 : Number(values.pairs),
    dir,
    db,
    cleanup,
    script: randomPathsScript(sample.map((id) => `/tasks/${id}`), { Authorization: `Bearer ${token(db, 'system')}` }),
  }
}
