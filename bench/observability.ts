/**
 * What request logging and metrics cost (issue budget: at most 5% of the
 * authenticated-lookup throughput): GET /tasks/<id> as in bench/lookup.ts,
 * against the same server with its request ids, JSON log lines (level info,
 * written to a file) and request metrics on, and with them off, both
 * compiled with the flags of `bun run build`.
 *
 * Both servers run at once, pinned to the same core, each loaded by its own
 * wrk on the other core (see lib/shared-core.ts): the kernel gives them
 * equal CPU time, so the ratio of requests they answer is the throughput
 * ratio, measured under the same machine conditions. This is repeated with
 * several fresh pairs of processes (sharedCoreGroups); the cost is 1 - the
 * median of the pairs' median ratios. Each log file is checked to hold one
 * line per request answered.
 * Usage: bun bench/observability.ts [--seconds N] [--rounds N] [--groups N] [--quick]
 */
import { readFileSync } from 'node:fs'
import { compileLikeBuild } from './lib/binary'
import { cpuShare, printCpuShare } from './lib/cpu'
import { printResult, report } from './lib/report'
import { spawnServer, stopTracked, tracked } from './lib/servers'
import { lookupSetup, sharedCoreGroups, sharedCoreLines, sharedCoreRatio } from './lib/shared-core'
import { requireWrk } from './lib/wrk'

requireWrk()
const { seconds, rounds, groups, dir, db, cleanup, script } = lookupSetup('observability')
const cpu = cpuShare()
try {
  // Compiled as the executable is; the lookups only read, so the checkpoint worker's entry point is not bundled.
  const observedServer = compileLikeBuild(`${dir}/observed-server`, ['bench/observed-server.ts'])
  const logFile = (group: number) => `${dir}/requests-${group}.log`
  const server = (observe: 'yes' | 'no', stderrFile: string) =>
    tracked(spawnServer([observedServer, '--db', db, '--observe', observe], {}, { stderrFile, cpus: '1' }))
  const measured = await sharedCoreGroups(
    async (group) => [await server('yes', logFile(group)), await server('no', `${dir}/unobserved-${group}.log`)],
    { groups, rounds, seconds, connections: 16, script, wrkCpus: '0' },
  )
  await stopTracked()
  printCpuShare(cpu.stop())
  let logLines = 0
  for (let group = 0; group < groups; group++) logLines += readFileSync(logFile(group), 'utf8').split('\n').filter((line) => line.includes('"msg":"request"')).length
  const answered = measured.flat().reduce((n, r) => n + r.requests[0]!, 0)
  if (logLines < answered) throw new Error(`${logLines} request log lines for at least ${answered} requests answered`)
  const ratio = sharedCoreRatio(measured, 0, 1)
  const cost = 1 - ratio
  report(`logging + metrics cost on GET /tasks/<id> (both servers on one core, wrk -t1 -c16 each; ${groups} pairs of processes)`, {
    ...sharedCoreLines(['with logs and metrics', 'without'], measured, seconds, [[0, 1]]),
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
