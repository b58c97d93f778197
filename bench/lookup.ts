/**
 * Target 1 — authenticated lookup: GET /tasks/<task_id> with a valid token,
 * random ids over 100k tasks, against a raw Bun.serve + bun:sqlite baseline
 * serving the same stored JSON (bench/baseline-lookup.ts). The project runs
 * as an operator runs it: the executable `bun run build` makes, at the
 * default log level (a JSON line per request, written to a file), metrics
 * on. The same code run from source by Bun is measured alongside, so that
 * the executable can be checked against it: within 5%.
 *
 * The three servers run at once, pinned to the same core, each loaded by its
 * own wrk -t1 -c16 on the other core (48 connections in all; see
 * lib/shared-core.ts): the kernel gives them equal CPU time, so the ratio of
 * requests two of them answer is their throughput ratio, measured under the
 * same machine conditions. This is repeated with several fresh groups of
 * processes (sharedCoreGroups); each figure is the median of the groups'
 * median ratios.
 * Usage: bun bench/lookup.ts [--seconds N] [--rounds N] [--groups N] [--quick]
 */
import { cpuShare, printCpuShare } from './lib/cpu'
import { median, printResult, report } from './lib/report'
import { startLookupBaseline, startProject, startProjectFromSource, stopTracked, tracked } from './lib/servers'
import { lookupSetup, sharedCoreGroups, sharedCoreLines, sharedCoreRatio } from './lib/shared-core'
import { requireWrk } from './lib/wrk'

const TARGET = 0.8
/** The executable against the same code run from source. */
const TARGET_BINARY_VS_SOURCE = 0.95
const [BINARY, SOURCE, RAW] = [0, 1, 2]

requireWrk()
const { seconds, rounds, groups, dir, db, cleanup, script } = lookupSetup('lookup')
const cpu = cpuShare()
try {
  const project = { ICEPROD_LOG_LEVEL: 'info' }
  const measured = await sharedCoreGroups(
    async (group) => [
      await tracked(startProject(db, project, { stderrFile: `${dir}/binary-requests-${group}.log`, cpus: '1' })),
      await tracked(startProjectFromSource(db, project, { stderrFile: `${dir}/source-requests-${group}.log`, cpus: '1' })),
      await tracked(startLookupBaseline(db, { cpus: '1' })),
    ],
    { groups, rounds, seconds, connections: 16, script, wrkCpus: '0' },
  )
  await stopTracked()
  printCpuShare(cpu.stop())
  const ratio = sharedCoreRatio(measured, BINARY, RAW)
  const sourceRatio = sharedCoreRatio(measured, SOURCE, RAW)
  const binaryVsSource = sharedCoreRatio(measured, BINARY, SOURCE)
  const rate = (server: number) => Math.round(median(measured.flat().map((r) => r.requests[server]! / seconds)))
  const met = ratio >= TARGET && binaryVsSource >= TARGET_BINARY_VS_SOURCE
  report(`authenticated lookup GET /tasks/<id> (three servers on one core, wrk -t1 -c16 each; ${groups} groups of processes)`, {
    ...sharedCoreLines(['binary', 'source', 'raw'], measured, seconds, [[BINARY, RAW], [SOURCE, RAW], [BINARY, SOURCE]]),
    [`binary / raw (target >= ${TARGET})`]: ratio.toFixed(3),
    'source / raw': sourceRatio.toFixed(3),
    [`binary / source (target >= ${TARGET_BINARY_VS_SOURCE})`]: binaryVsSource.toFixed(3),
    result: met ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'lookup',
    figure: `binary ${ratio.toFixed(3)} x raw (${rate(BINARY)} req/s on a third of a core); source ${sourceRatio.toFixed(3)} x raw`,
    goal: `>= ${TARGET} x baseline`,
    met: ratio >= TARGET,
    baseline: `${rate(RAW)} req/s on a third of a core (raw Bun.serve + bun:sqlite)`,
  })
  printResult({
    target: 'lookup: binary vs source',
    figure: `${binaryVsSource.toFixed(3)} (${rate(BINARY)} vs ${rate(SOURCE)} req/s)`,
    goal: `>= ${TARGET_BINARY_VS_SOURCE} x source`,
    met: binaryVsSource >= TARGET_BINARY_VS_SOURCE,
    baseline: 'the same code run from source by Bun, on the same core at the same time',
  })
} finally {
  cleanup()
}
