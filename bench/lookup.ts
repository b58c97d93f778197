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
 * conditions. This is repeated with several fresh pairs of processes
 * (sharedCorePairs); the figure is the median of the pairs' median ratios.
 * Usage: bun bench/lookup.ts [--seconds N] [--rounds N] [--pairs N] [--quick]
 */
import { BENCH_SECRET, lookupSetup, median, printResult, report, sharedCoreLines, sharedCorePairs, spawnServer, stopTracked, tracked } from './lib'

const { seconds, rounds, pairs, dir, db, cleanup, script } = lookupSetup('lookup')
try {
  const measured = await sharedCorePairs(
    async (pair) => [
      await tracked(spawnServer(['bun', 'src/cli.ts', 'serve', '--db', db], { ICEPROD_LOG_LEVEL: 'info' }, { stderrFile: `${dir}/requests-${pair}.log`, cpus: '1' })),
      await tracked(spawnServer(['bun', 'bench/baseline-lookup.ts', '--db', db], { ICEPROD_JWT_SECRET: BENCH_SECRET }, { cpus: '1' })),
    ],
    { pairs, rounds, seconds, connections: 16, script, wrkCpus: '0' },
  )
  await stopTracked()
  const ratio = median(measured.pairRatios)
  report(`authenticated lookup GET /tasks/<id> (both servers on one core, wrk -t1 -c16 each; ${pairs} pairs of processes)`, {
    ...sharedCoreLines('project', 'baseline', measured.rounds, seconds),
    'pair ratios (median of each pair)': measured.pairRatios.map((r) => r.toFixed(3)).join(' '),
    'ratio (target >= 0.80)': ratio,
    result: ratio >= 0.8 ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'lookup',
    figure: `ratio ${ratio.toFixed(3)} (${Math.round(median(measured.rounds.map((r) => r.aRequests / seconds)))} req/s on half a core)`,
    goal: '>= 0.80 x baseline',
    met: ratio >= 0.8,
    baseline: `${Math.round(median(measured.rounds.map((r) => r.bRequests / seconds)))} req/s on half a core`,
  })
} finally {
  cleanup()
}
