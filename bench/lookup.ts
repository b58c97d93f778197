/**
 * Target 1 — authenticated lookup: GET /tasks/<task_id> with a valid token,
 * random ids over 100k tasks, against a raw Bun.serve + bun:sqlite baseline
 * serving the same stored JSON (bench/baseline-lookup.ts). The project runs
 * as an operator runs it: default log level (a JSON line per request, written
 * to a file) and metrics on.
 *
 * Both servers run at once, pinned to the same core, each loaded by its own
 * wrk -t1 -c16 on the other core (32 connections in all; see sharedCoreWrk in
 * lib.ts): the kernel gives them equal CPU time, so the ratio of requests
 * answered is the throughput ratio, measured under the same machine
 * conditions. The figure is the median of the rounds' ratios.
 * Usage: bun bench/lookup.ts [--seconds N] [--rounds N] [--quick]
 */
import { BENCH_SECRET, lookupSetup, median, printResult, report, sharedCoreLines, sharedCoreWrk, spawnServer, stopTracked, tracked } from './lib'

const { seconds, rounds, dir, db, cleanup, script } = lookupSetup('lookup')
try {
  const project = await tracked(spawnServer(['bun', 'src/cli.ts', 'serve', '--db', db], { ICEPROD_LOG_LEVEL: 'info' }, { stderrFile: `${dir}/requests.log`, cpus: '1' }))
  const baseline = await tracked(spawnServer(['bun', 'bench/baseline-lookup.ts', '--db', db], { ICEPROD_JWT_SECRET: BENCH_SECRET }, { cpus: '1' }))
  const measured = await sharedCoreWrk(project, baseline, { rounds, seconds, connections: 16, script, wrkCpus: '0' })
  await stopTracked()
  const ratio = median(measured.map((r) => r.ratio))
  report('authenticated lookup GET /tasks/<id> (both servers on one core, wrk -t1 -c16 each)', {
    ...sharedCoreLines('project', 'baseline', measured, seconds),
    'ratio (target >= 0.80)': ratio,
    result: ratio >= 0.8 ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'lookup',
    figure: `ratio ${ratio.toFixed(3)} (${Math.round(median(measured.map((r) => r.aRequests / seconds)))} req/s on half a core)`,
    goal: '>= 0.80 x baseline',
    met: ratio >= 0.8,
    baseline: `${Math.round(median(measured.map((r) => r.bRequests / seconds)))} req/s on half a core`,
  })
} finally {
  cleanup()
}
