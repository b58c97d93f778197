/**
 * Target 1 — authenticated lookup: GET /tasks/<task_id> with a valid token,
 * random ids over 100k tasks, against a raw Bun.serve + bun:sqlite baseline
 * serving the same stored JSON (bench/baseline-lookup.ts). The project runs
 * as an operator runs it: default log level (a JSON line per request, written
 * to a file) and metrics on.
 *
 * Both servers run at once, pinned to the same core, each loaded by its own
 * wrk -t1 -c16 on the other core (32 connections in all; see
 * lib/shared-core.ts): the kernel gives them equal CPU time, so the ratio of
 * requests answered is the throughput ratio, measured under the same machine
 * conditions. This is repeated with several fresh pairs of processes
 * (sharedCoreGroups); the figure is the median of the pairs' median ratios.
 * Usage: bun bench/lookup.ts [--seconds N] [--rounds N] [--groups N] [--quick]
 */
import { median, printResult, report } from './lib/report'
import { startLookupBaseline, startProject, stopTracked, tracked } from './lib/servers'
import { lookupSetup, sharedCoreGroups, sharedCoreLines, sharedCoreRatio } from './lib/shared-core'
import { requireWrk } from './lib/wrk'

requireWrk()
const { seconds, rounds, groups, dir, db, cleanup, script } = lookupSetup('lookup')
try {
  const measured = await sharedCoreGroups(
    async (group) => [
      await tracked(startProject(db, { ICEPROD_LOG_LEVEL: 'info' }, { stderrFile: `${dir}/requests-${group}.log`, cpus: '1' })),
      await tracked(startLookupBaseline(db, { cpus: '1' })),
    ],
    { groups, rounds, seconds, connections: 16, script, wrkCpus: '0' },
  )
  await stopTracked()
  const ratio = sharedCoreRatio(measured, 0, 1)
  const rate = (server: number) => Math.round(median(measured.flat().map((r) => r.requests[server]! / seconds)))
  report(`authenticated lookup GET /tasks/<id> (both servers on one core, wrk -t1 -c16 each; ${groups} pairs of processes)`, {
    ...sharedCoreLines(['project', 'baseline'], measured, seconds, [[0, 1]]),
    'ratio (target >= 0.80)': ratio,
    result: ratio >= 0.8 ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'lookup',
    figure: `ratio ${ratio.toFixed(3)} (${rate(0)} req/s on half a core)`,
    goal: '>= 0.80 x baseline',
    met: ratio >= 0.8,
    baseline: `${rate(1)} req/s on half a core`,
  })
} finally {
  cleanup()
}
