/**
 * Servers under test as separate processes on loopback: the project's
 * executable and the raw baselines, each on a free port, stopped with the
 * script even when it fails halfway; tokens for them.
 */
import { createServer } from 'node:net'
import type { Side } from './ab'
import { projectBinary } from './binary'
import { memoryOf } from './memory'

export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-0123456789'

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
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

/** The project's server as operators run it: the executable `bun run build` makes (see binary.ts), on `db`. */
export const startProject = (db: string, env: Record<string, string> = {}, options: SpawnOptions = {}) =>
  spawnServer([projectBinary(), 'serve', '--db', db], env, options)

/** The same server run from source by Bun, as in development. */
export const startProjectFromSource = (db: string, env: Record<string, string> = {}, options: SpawnOptions = {}) =>
  spawnServer(['bun', 'src/cli.ts', 'serve', '--db', db], env, options)

/** The raw Bun.serve + bun:sqlite baseline for the claims, counts, list and creation targets. */
export const startBaseline = (db: string, env: Record<string, string> = {}) => spawnServer(['bun', 'bench/baseline-server.ts', '--db', db], env)

/** One side of an A/B comparison on `db`, tracked: the project's server (with `projectEnv`) or the raw baseline. */
export const startSide = (side: Side, db: string, projectEnv: Record<string, string> = {}): Promise<Proc> =>
  tracked(side === 'project' ? startProject(db, projectEnv) : startBaseline(db))

/** The raw Bun.serve + bun:sqlite baseline for the lookup. */
export const startLookupBaseline = (db: string, options: SpawnOptions = {}) => spawnServer(['bun', 'bench/baseline-lookup.ts', '--db', db], {}, options)

export function token(db: string, role: string): string {
  const r = Bun.spawnSync(['bun', 'src/cli.ts', 'token', '--db', db, '--username', 'bench', '--role', role, '--groups', '/bench'], {
    env: { ...process.env, ICEPROD_JWT_SECRET: BENCH_SECRET },
  })
  if (r.exitCode !== 0) throw new Error(r.stderr.toString())
  return r.stdout.toString().trim()
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
