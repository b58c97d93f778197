/** wrk, the load generator written in C (it takes the least CPU from the servers on a 2-core machine): its command line and its report. */
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** wrk's path; without wrk on PATH the benchmark stops here, saying what it needs. */
export function requireWrk(): string {
  const found = Bun.which('wrk')
  if (found) return found
  console.error('this benchmark needs wrk, which is not on PATH: install it first (Debian: apt-get install wrk)')
  process.exit(2)
}

export interface WrkOptions {
  connections: number
  seconds: number
  threads?: number
  /** Lua text, written to a temporary file for the run. */
  script?: string
  /** wrk counts an answer slower than its timeout (2 s by default) as a socket error. */
  timeoutSeconds?: number
  /** Pin wrk to these CPUs (taskset). */
  cpus?: string
}

/** Everything wrk reports: rate, latency, request count, duration, failures. */
export interface WrkRun {
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  non2xx: number
  errors: number
  /** Requests completed (any status), from "N requests in Xs". */
  requests: number
  /** The measured duration in seconds, from the same line. */
  seconds: number
  /** Completed requests with a 2xx or 3xx status. */
  succeeded: number
  output: string
}

/** The wrk command line for `url`, and a cleanup that removes its script file. */
function wrkCommand(url: string, options: WrkOptions): { args: string[]; cleanup(): void } {
  const args = [requireWrk(), '-t', String(options.threads ?? 1), '-c', String(options.connections), '-d', `${options.seconds}s`, '--latency']
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

const toMs = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1)

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

/** A Lua script for wrk that POSTs the same JSON `body` with a bearer token on every request. */
export function postScript(bearer: string, body: unknown): string {
  return `wrk.method = "POST"
wrk.body = '${JSON.stringify(body)}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${bearer}"
`
}
