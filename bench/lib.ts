/**
 * Benchmark helpers: seed a database through the real schema, start the project
 * and a baseline as separate processes on loopback, drive them with wrk, and
 * compare A/B/A/B medians measured in the same run.
 */
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
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

function rssOf(pid: number): number {
  try {
    const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string
    return Number(status.match(/VmRSS:\s+(\d+)/)![1]) / 1024
  } catch {
    return NaN
  }
}

export async function spawnServer(cmd: string[], env: Record<string, string> = {}, readyPath = '/healthz'): Promise<Proc> {
  const port = await freePort()
  const proc = Bun.spawn([...cmd, '--port', String(port)], {
    env: { ...process.env, ICEPROD_JWT_SECRET: BENCH_SECRET, ICEPROD_LOG_LEVEL: 'error', ...env },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  const url = `http://127.0.0.1:${port}`
  await waitUp(url, proc, readyPath)
  return {
    url,
    port,
    pid: proc.pid,
    rssMb: () => rssOf(proc.pid),
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

/** Runs wrk once; `script` is Lua text (written to a temp file). */
export function wrk(url: string, options: { connections: number; seconds: number; threads?: number; script?: string }): WrkResult {
  const args = [ensureWrk(), '-t', String(options.threads ?? 1), '-c', String(options.connections), '-d', `${options.seconds}s`, '--latency']
  let scriptFile: string | undefined
  if (options.script) {
    scriptFile = join(tmpdir(), `wrk-${process.pid}-${Math.random().toString(36).slice(2)}.lua`)
    writeFileSync(scriptFile, options.script)
    args.push('-s', scriptFile)
  }
  args.push(url)
  const r = Bun.spawnSync(args, { stdout: 'pipe', stderr: 'pipe' })
  if (scriptFile) rmSync(scriptFile, { force: true })
  const out = r.stdout.toString()
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN)
  const p50 = out.match(/50%\s+([\d.]+)(us|ms|s)/)
  const p99 = out.match(/99%\s+([\d.]+)(us|ms|s)/)
  const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0)
  const errs = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/)
  return {
    requestsPerSec: rps,
    p50Ms: p50 ? toMs(p50[1]!, p50[2]!) : NaN,
    p99Ms: p99 ? toMs(p99[1]!, p99[2]!) : NaN,
    non2xx,
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  }
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
