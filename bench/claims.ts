/**
 * Target 2 — pilot claims: POST /task_actions/process from 32 concurrent
 * pilots, 100k queued tasks among the 1M tasks of one dataset; >= 5,000
 * claims/s and no task handed out twice.
 *
 * Two load generators, each against the project and the raw baseline
 * (bench/baseline-server.ts: one UPDATE ... RETURNING and one commit per claim):
 * - wrk -t1 -c32 for 4 s, A/B/A/B, medians: the claim rate (wrk costs the shared CPU
 *   least). Checked from the database afterwards: the processing tasks are
 *   the tasks that left the queue, and their number is the 200s wrk counted
 *   plus at most the 32 requests in flight when wrk stopped.
 * - 32 keep-alive fetch loops in Bun, once each: every returned task_id is
 *   collected and must be unique, and the processing tasks in the database
 *   must be exactly the returned ids.
 * Every run starts from a fresh copy of the seeded database.
 * Usage: bun bench/claims.ts [--quick] [--seconds N] [--rounds N]
 */
import { abWrkLines, alternate, fetchLoops, loadRunOptions, printedWrkRound, SIDES, type RateRun, type Side } from './lib/ab'
import { CLAIM_OFFER, checkQueueConservation, queueState, wrkClaims } from './lib/claims'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, removeDatabase, tempDir } from './lib/seed'
import { startSide, stopTracked, token } from './lib/servers'
import { postScript, requireWrk } from './lib/wrk'
import { oneBigDataset, queuedIn } from './shapes'

requireWrk()

// 4 s rather than 10 (1 s with --quick, 20k queued): at the 12-17k claims/s
// the project reaches on a quiet minute of this VM, 6 s would empty the
// queue of 100k before wrk stops.
const { quick, seconds, rounds, connections } = loadRunOptions(32, 4, 1)
const TARGET = 5000

const seeded = oneBigDataset(quick)
const queued = queuedIn(quick)
const bearer = token(seeded.path, 'pilot')
const { dir, cleanup } = tempDir('claims')

const wrkScript = postScript(bearer, CLAIM_OFFER)

/** One wrk run on a fresh copy: claims/s from the 200s, checked against the database. */
async function wrkRound(server: Side): Promise<RateRun> {
  const db = copyDatabase(seeded.path, dir, `${server}.sqlite`)
  const proc = await startSide(server, db)
  const run = await wrkClaims(server, proc, db, { connections, seconds, script: wrkScript, queued })
  removeDatabase(db)
  return run
}

/** One run of 32 fetch loops on a fresh copy, collecting every claimed id. */
async function fetchRound(server: Side): Promise<{ rate: number; claims: number; duplicates: number }> {
  const db = copyDatabase(seeded.path, dir, `${server}.sqlite`)
  const proc = await startSide(server, db)
  const ids: string[] = []
  const body = JSON.stringify(CLAIM_OFFER)
  const headers = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }
  const outcome = await fetchLoops({
    concurrency: connections,
    seconds,
    request: () => new Request(`${proc.url}/task_actions/process`, { method: 'POST', body, headers }),
    onAnswer: (status, text) => {
      if (status === 200) ids.push((JSON.parse(text) as { task_id: string }).task_id)
    },
  })
  await proc.stop()
  const state = queueState(db)
  removeDatabase(db)
  const answered200 = outcome.byStatus.get(200) ?? 0
  if (answered200 !== [...outcome.byStatus.values()].reduce((a, b) => a + b, 0)) {
    throw new Error(`${server}: answers by status ${JSON.stringify([...outcome.byStatus])}`)
  }
  const unique = new Set(ids)
  checkQueueConservation(server, state, queued)
  if (state.processing !== ids.length) throw new Error(`${server}: ${state.processing} tasks processing, ${ids.length} claims answered`)
  for (const id of unique) if (!state.processingIds.has(id)) throw new Error(`${server}: claimed task ${id} is not processing`)
  return { rate: answered200 / outcome.seconds, claims: ids.length, duplicates: ids.length - unique.size }
}

const cpu = cpuShare()
try {
  const wrkRuns = await alternate(rounds, SIDES, printedWrkRound('claims/s', wrkRound))
  const fetched: Record<Side, Awaited<ReturnType<typeof fetchRound>>> = {
    project: await fetchRound('project'),
    baseline: await fetchRound('baseline'),
  }
  const projectRate = median(wrkRuns.project.map((r) => r.rate))
  const baselineRate = median(wrkRuns.baseline.map((r) => r.rate))
  const noDuplicates = fetched.project.duplicates === 0
  printCpuShare(cpu.stop())
  report(`pilot claims POST /task_actions/process (${queued} queued of ${seeded.taskIds.length}, ${connections} pilots, ${seconds} s runs)`, {
    ...abWrkLines('claims/s', wrkRuns),
    'project claims/s, fetch loops': fetched.project.rate,
    'baseline claims/s, fetch loops': fetched.baseline.rate,
    'project ids returned / duplicates': `${fetched.project.claims} / ${fetched.project.duplicates}`,
    'baseline ids returned / duplicates': `${fetched.baseline.claims} / ${fetched.baseline.duplicates}`,
    result: projectRate >= TARGET && noDuplicates ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'claims',
    figure: `${fmt(projectRate)} claims/s (wrk); ${fmt(fetched.project.rate)} (fetch loops), ${fetched.project.duplicates} duplicates`,
    goal: `>= ${TARGET} claims/s, no duplicates`,
    met: projectRate >= TARGET && noDuplicates,
    baseline: `${fmt(baselineRate)} claims/s (wrk); ${fmt(fetched.baseline.rate)} (fetch loops)`,
  })
} finally {
  await stopTracked()
  cleanup()
}
