/**
 * Target 6 — start and footprint: the compiled binary answers /healthz
 * <= 150 ms after exec on an existing, migrated database of 1M tasks, and its
 * RSS is <= 64 MB after start, a few requests and a second of idleness.
 *
 * The binary is the one `bun run build` makes, built from the current source
 * into a temporary folder (see lib/binary.ts), so dist/ is left alone;
 * --binary uses an existing one instead. The baseline is
 * bench/baseline-lookup.ts compiled with the same flags: the floor that Bun itself,
 * bun:sqlite and one open database cost. Starts alternate A/B; each is timed
 * from just before spawn to the first 200 from /healthz (polled every
 * millisecond). One unmeasured start of each warms the page cache first.
 * Usage: bun bench/startup.ts [--quick] [--starts N] [--binary PATH]
 */
import { parseArgs } from 'node:util'
import { compileLikeBuild, projectBinary } from './lib/binary'
import { cpuShare, printCpuShare } from './lib/cpu'
import { memoryOf } from './lib/memory'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, tempDir } from './lib/seed'
import { BENCH_SECRET, freePort, token } from './lib/servers'
import { oneBigDataset } from './shapes'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, starts: { type: 'string' }, binary: { type: 'string' } } })
const quick = values.quick
const starts = Number(values.starts ?? (quick ? 3 : 10))
const TARGET_START_MS = 150
const TARGET_IDLE_RSS_MB = 64

const seeded = oneBigDataset(quick)
const datasetId = seeded.datasetIds[0]!
const authorization = `Bearer ${token(seeded.path, 'system')}`
const { dir, cleanup } = tempDir('startup')

interface Start {
  /** From just before spawn to the first 200 from /healthz. */
  readyMs: number
  /** After the requests and a second of idleness. */
  idleRssMb: number
}

/** Starts `cmd`, times /healthz, sends a few typical requests, idles a second, reads RSS, stops. */
async function startOnce(cmd: string[], requests: string[]): Promise<Start> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const started = performance.now()
  const proc = Bun.spawn([...cmd, '--port', String(port)], {
    env: { ...process.env, ICEPROD_JWT_SECRET: BENCH_SECRET, ICEPROD_LOG_LEVEL: 'error' },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  try {
    let readyMs = NaN
    while (Number.isNaN(readyMs)) {
      const ok = await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false)
      if (ok) readyMs = performance.now() - started
      else if (proc.exitCode !== null) throw new Error(`${cmd[0]} exited with ${proc.exitCode}`)
      else if (performance.now() - started > 10_000) throw new Error(`${cmd[0]} did not answer /healthz within 10 s`)
      else await Bun.sleep(1)
    }
    for (const path of requests) {
      const response = await fetch(url + path, { headers: { authorization } })
      if (response.status !== 200) throw new Error(`${path}: ${response.status}`)
      await response.arrayBuffer()
    }
    await Bun.sleep(1000)
    return { readyMs, idleRssMb: memoryOf(proc.pid).rssMb }
  } finally {
    proc.kill('SIGTERM')
    await proc.exited
  }
}

const cpu = cpuShare()
try {
  const db = copyDatabase(seeded.path, dir)
  const binary = values.binary ?? projectBinary()
  const baselineBinary = compileLikeBuild(`${dir}/baseline-lookup`, ['bench/baseline-lookup.ts'])
  // A few typical requests: task lookups, counts, a job's tasks, the service document.
  const sampleTasks = seeded.taskIds.filter((_, i) => i % Math.floor(seeded.taskIds.length / 10) === 0)
  const projectRequests = [
    ...sampleTasks.map((id) => `/tasks/${id}`),
    `/datasets/${datasetId}/task_counts/status`,
    `/datasets/${datasetId}/job_counts/status`,
    `/datasets/${datasetId}`,
    `/datasets/${datasetId}/tasks?job_index=7`,
    '/',
  ]
  const baselineRequests = sampleTasks.map((id) => `/tasks/${id}`)
  const commands = {
    project: [binary, 'serve', '--db', db],
    baseline: [baselineBinary, '--db', db],
  }
  const requests = { project: projectRequests, baseline: baselineRequests }
  const warm = {
    project: await startOnce(commands.project, requests.project),
    baseline: await startOnce(commands.baseline, requests.baseline),
  }
  console.log(`  first starts (page cache warm-up, not counted): project ${fmt(warm.project.readyMs)} ms, baseline ${fmt(warm.baseline.readyMs)} ms`)
  const runs: Record<'project' | 'baseline', Start[]> = { project: [], baseline: [] }
  for (let i = 0; i < starts; i++) {
    for (const server of ['project', 'baseline'] as const) {
      const s = await startOnce(commands[server], requests[server])
      runs[server].push(s)
      console.log(`  start ${i + 1} ${server}: /healthz after ${fmt(s.readyMs)} ms, idle RSS ${fmt(s.idleRssMb)} MB`)
    }
  }
  const readyMs = median(runs.project.map((s) => s.readyMs))
  const idleRss = median(runs.project.map((s) => s.idleRssMb))
  const worstIdleRss = Math.max(...runs.project.map((s) => s.idleRssMb))
  printCpuShare(cpu.stop())
  report(`start and footprint (compiled binary, ${seeded.taskIds.length}-task database, ${starts} starts each)`, {
    'project /healthz after exec ms (median)': readyMs,
    'baseline /healthz after exec ms (median)': median(runs.baseline.map((s) => s.readyMs)),
    'project start ms, all runs': runs.project.map((s) => fmt(s.readyMs)).join(' '),
    'project idle RSS MB (median, worst)': `${fmt(idleRss)}, ${fmt(worstIdleRss)}`,
    'baseline idle RSS MB (median)': median(runs.baseline.map((s) => s.idleRssMb)),
    result: readyMs <= TARGET_START_MS && idleRss <= TARGET_IDLE_RSS_MB ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'start',
    figure: `/healthz ${fmt(readyMs)} ms after exec (median)`,
    goal: `<= ${TARGET_START_MS} ms`,
    met: readyMs <= TARGET_START_MS,
    baseline: `${fmt(median(runs.baseline.map((s) => s.readyMs)))} ms (raw Bun.serve + bun:sqlite binary)`,
  })
  printResult({
    target: 'idle RSS',
    figure: `${fmt(idleRss)} MB (median; worst ${fmt(worstIdleRss)})`,
    goal: `<= ${TARGET_IDLE_RSS_MB} MB`,
    met: idleRss <= TARGET_IDLE_RSS_MB,
    baseline: `${fmt(median(runs.baseline.map((s) => s.idleRssMb)))} MB (raw Bun.serve + bun:sqlite binary)`,
  })
} finally {
  cleanup()
}
