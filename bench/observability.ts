/**
 * What request logging and metrics cost (issue budget: at most 5% of the
 * authenticated-lookup throughput): GET /tasks/<id> as in bench/lookup.ts,
 * against the same server with its request ids, JSON log lines (level info,
 * written to a file) and request metrics on, and with them off.
 *
 * Both servers run at once, pinned to the same core, each loaded by its own
 * wrk on the other core (see sharedCoreWrk in lib.ts): the kernel gives them
 * equal CPU time, so the ratio of requests they answer is the throughput
 * ratio, measured under the same machine conditions. This is repeated with
 * several fresh pairs of processes (sharedCorePairs); the cost is 1 - the
 * median of the pairs' median ratios. Each log file is checked to hold one
 * line per request answered.
 * Usage: bun bench/observability.ts [--seconds N] [--rounds N] [--pairs N] [--quick]
 */
import { readFileSync } from 'node:fs'
import { lookupSetup, median, printResult, report, sharedCoreLines, sharedCorePairs, spawnServer, stopTracked, tracked } from './lib'

const { seconds, rounds, pairs, dir, db, cleanup, script } = lookupSetup('observability')
try {
  const logFile = (pair: number) => `${dir}/requests-${pair}.log`
  const server = (observe: 'yes' | 'no', stderrFile: string) =>
    tracked(spawnServer(['bun', 'bench/observed-server.ts', '--db', db, '--observe', observe], {}, { stderrFile, cpus: '1' }))
  const measured = await sharedCorePairs(
    async (pair) => [await server('yes', logFile(pair)), await server('no', `${dir}/unobserved-${pair}.log`)],
    { pairs, rounds, seconds, connections: 16, script, wrkCpus: '0' },
  )
  await stopTracked()
  let logLines = 0
  for (let pair = 0; pair < pairs; pair++) logLines += readFileSync(logFile(pair), 'utf8').split('\n').filter((line) => line.includes('"msg":"request"')).length
  const answered = measured.rounds.reduce((n, r) => n + r.aRequests, 0)
  if (logLines < answered) throw new Error(`${logLines} request log lines for at least ${answered} requests answered`)
  const ratio = median(measured.pairRatios)
  const cost = 1 - ratio
  report(`logging + metrics cost on GET /tasks/<id> (both servers on one core, wrk -t1 -c16 each; ${pairs} pairs of processes)`, {
    ...sharedCoreLines('with logs and metrics', 'without', measured.rounds, seconds),
    'pair ratios (median of each pair)': measured.pairRatios.map((r) => r.toFixed(3)).join(' '),
    'request log lines written': logLines,
    'cost (target <= 5%)': `${(100 * cost).toFixed(1)}%`,
    result: cost <= 0.05 ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'observability cost',
    figure: `${(100 * cost).toFixed(1)}% (median pair ratio ${ratio.toFixed(3)})`,
    goal: '<= 5% of lookup throughput',
    met: cost <= 0.05,
    baseline: 'the same server without request logs and metrics, on the same core at the same time',
  })
} finally {
  cleanup()
}
