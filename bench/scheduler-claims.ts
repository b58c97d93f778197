/**
 * Scheduler target — claims with the scheduler on against the same server
 * with ICEPROD_SCHEDULER=off, in the same run: POST /task_actions/process from
 * 32 concurrent pilots, 100k queued tasks among the 1M tasks of one dataset
 * whose jobs are all processing (so both modes may hand out every one).
 * Goals: on ≥ 90% of off, on ≥ 5,000 claims/s, claim p99 ≤ 50 ms.
 *
 * The rate and p99: wrk -t1 -c32 for 5 s, off/on/off/on…, each run on a
 * fresh copy of the seeded database (flushed to disk first: see
 * copyDatabase), medians. After every run the database must hold as many
 * processing tasks as the 200s wrk counted (plus at most the 32 answers in
 * flight when it stopped), and processing + still queued = queued at the
 * start; with the scheduler on, every processing task must carry a new
 * instance_id, not the one it was made with, and its document must have grown
 * by its longer status alone.
 * Each side claims from a file laid out as its own server makes tasks (see
 * oneActiveDataset): the on side's tasks carry an instance_id from their
 * creation, the off side's none.
 * The WAL file's size is sampled every 50 ms during each run: its largest
 * says whether the checkpoints started it over (see RESTART_PAGES). Once the
 * load has stopped, the still running server must leave no reader on the
 * WAL: a RESTART checkpoint from another connection copies all of it and
 * finds no reader in the way (one left open would hold every checkpoint
 * behind its snapshot).
 * The ratio: both servers at once on one core, each loaded by its own wrk
 * (sharedCoreGroups, as the lookup target does): one after the other, this
 * VM's drift moves a pair of runs by tens of percent.
 * Usage: bun bench/scheduler-claims.ts [--quick] [--seconds N] [--rounds N]
 */
import { Database } from 'bun:sqlite'
import { statSync } from 'node:fs'
import { alternate, loadRunOptions, type RateRun } from './lib/ab'
import { CLAIM_OFFER, wrkClaims } from './lib/claims'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, removeDatabase, tempDir, type CachedSeed } from './lib/seed'
import { startProject, stopTracked, token, tracked } from './lib/servers'
import { sharedCoreGroups, sharedCoreLines, sharedCoreRatio } from './lib/shared-core'
import { postScript } from './lib/wrk'
import { oneActiveDataset, queuedIn } from './shapes'

const { quick, seconds, rounds, connections } = loadRunOptions(32, 5, 1)
const RATIO = 0.9
const RATE = 5000
const P99_MS = 50

type Mode = 'on' | 'off'
const seeded: Record<Mode, CachedSeed> = { on: oneActiveDataset(quick, 'on'), off: oneActiveDataset(quick, 'off') }
const queued = queuedIn(quick)
const bearer = token(seeded.on.path, 'pilot')
const { dir, cleanup } = tempDir('scheduler-claims')
/** What a claim adds to a queued task's document: its status's longer name. */
const STATUS_GROWTH = 'processing'.length - 'queued'.length

const script = postScript(bearer, CLAIM_OFFER)

type Run = RateRun & { walMiB: number }

/** Samples the size of `db`'s WAL every 50 ms on a thread of its own (wrk's run blocks this one); `stop` gives the largest, in MiB. */
function sampleWal(db: string): { stop(): number } {
  const largest = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT))
  const source = `const { statSync } = require('node:fs')
onmessage = ({ data: [path, largest] }) => setInterval(() => {
  try { Atomics.store(largest, 0, Math.max(Atomics.load(largest, 0), Math.ceil(statSync(path).size / 1024))) } catch {}
}, 50)`
  const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'application/javascript' })))
  worker.postMessage([`${db}-wal`, largest])
  return {
    stop() {
      worker.terminate()
      return Atomics.load(largest, 0) / 1024
    },
  }
}

/** With the server idle, another connection checkpoints the whole WAL and may start it over: no reader was left open. */
async function checkNoReaderLeft(mode: Mode, db: string): Promise<void> {
  const sqlite = new Database(db)
  try {
    // Waits for the write lock and for readers; a reader left open still holds it after that.
    sqlite.exec('PRAGMA busy_timeout = 2000')
    const restart = sqlite.prepare<{ busy: number; log: number; checkpointed: number }, []>('PRAGMA wal_checkpoint(RESTART)')
    for (const deadline = performance.now() + 10_000; ; await Bun.sleep(50)) {
      const result = restart.get()!
      // -1: another checkpoint runs (the server's, of what the load left), which SQLite does not wait for.
      if (result.log === -1 && performance.now() < deadline) continue
      restart.finalize()
      if (result.log === -1 || result.busy !== 0 || result.log !== result.checkpointed) throw new Error(`${mode}: the idle server holds the WAL: RESTART ${JSON.stringify(result)}`)
      return
    }
  } finally {
    sqlite.close()
  }
}

/**
 * With the scheduler on, every processing task carries the instance_id of its
 * claim, not the one it was seeded with, and its document grew by its
 * status's longer name alone: the claim replaced the id in place.
 */
function checkInstanceIds(db: string): void {
  const sqlite = new Database(db, { readonly: true })
  try {
    sqlite.run('ATTACH ? AS seeded', [seeded.on.path])
    const wrong = sqlite
      .query<{ n: number; same: number; grown: number }, [number]>(`
        SELECT count(*) AS n,
          total(json_extract(t.doc, '$.instance_id') IS NULL OR json_extract(t.doc, '$.instance_id') = json_extract(s.doc, '$.instance_id')) AS same,
          total(length(t.doc) - length(s.doc) <> ?) AS grown
        FROM tasks t JOIN seeded.tasks s ON s.task_id = t.task_id WHERE t.status = 'processing'`)
      .get(STATUS_GROWTH)!
    if (wrong.n === 0 || wrong.same > 0 || wrong.grown > 0) throw new Error(`on: of ${wrong.n} processing tasks, ${wrong.same} without a new instance_id, ${wrong.grown} grown by other than ${STATUS_GROWTH} bytes`)
  } finally {
    sqlite.close()
  }
}

async function round(mode: Mode): Promise<Run> {
  const db = copyDatabase(seeded[mode].path, dir, `${mode}.sqlite`)
  const proc = await tracked(startProject(db, { ICEPROD_SCHEDULER: mode }))
  const wal = sampleWal(db)
  const stopWhenIdle = async () => {
    await checkNoReaderLeft(mode, db)
    await proc.stop()
  }
  const claimed = await wrkClaims(mode, { ...proc, stop: stopWhenIdle }, db, { connections, seconds, script, queued })
  const r = { ...claimed, walMiB: wal.stop() }
  if (mode === 'on') checkInstanceIds(db)
  removeDatabase(db)
  console.log(`  ${mode}: ${fmt(r.rate)} claims/s, p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms, WAL up to ${fmt(r.walMiB)} MiB`)
  return r
}

/** Both servers at once on core 1, each on its own fresh copy; the ratio of the claims they answered. */
async function sharedCore(): Promise<{ ratio: number; lines: Record<string, string | number> }> {
  const groups = quick ? 1 : 3
  const measured = await sharedCoreGroups(
    async (group) =>
      Promise.all(
        (['on', 'off'] as const).map(async (mode) => {
          const db = copyDatabase(seeded[mode].path, dir, `shared-${mode}-${group}.sqlite`)
          const proc = await tracked(startProject(db, { ICEPROD_SCHEDULER: mode }, { cpus: '1' }))
          return { ...proc, url: `${proc.url}/task_actions/process` }
        }),
      ),
    { groups, rounds: 1, seconds, connections: connections / 2, script, wrkCpus: '0' },
  )
  return { ratio: sharedCoreRatio(measured, 0, 1), lines: sharedCoreLines(['on', 'off'], measured, seconds, [[0, 1]]) }
}

const cpu = cpuShare()
try {
  const runs = await alternate(rounds, ['off', 'on'] as const, round)
  const on = median(runs.on.map((r) => r.rate))
  const off = median(runs.off.map((r) => r.rate))
  const p99 = median(runs.on.map((r) => r.p99Ms))
  const shared = await sharedCore()
  const ratio = shared.ratio
  printCpuShare(cpu.stop())
  const met = { ratio: ratio >= RATIO, rate: on >= RATE, p99: p99 <= P99_MS }
  const fileMiB = (mode: Mode) => statSync(seeded[mode].path).size / 2 ** 20
  report(`scheduler claims, on against off (${queued} queued of ${seeded.on.taskIds.length}, ${connections} pilots, ${seconds} s runs)`, {
    'seeded file MiB on / off': `${fmt(fileMiB('on'))} / ${fmt(fileMiB('off'))} (${fmt((statSync(seeded.on.path).size - statSync(seeded.off.path).size) / seeded.on.taskIds.length)} bytes a task)`,
    'on claims/s (median)': on,
    'off claims/s (median)': off,
    'on / off, one after the other': on / off,
    ...Object.fromEntries(Object.entries(shared.lines).map(([key, value]) => [`one core: ${key}`, value])),
    'on / off (one core, median of groups)': ratio,
    'on runs': runs.on.map((r) => Math.round(r.rate)).join(' '),
    'off runs': runs.off.map((r) => Math.round(r.rate)).join(' '),
    'on p50 / p99 ms (medians)': `${fmt(median(runs.on.map((r) => r.p50Ms)))} / ${fmt(p99)}`,
    'off p50 / p99 ms (medians)': `${fmt(median(runs.off.map((r) => r.p50Ms)))} / ${fmt(median(runs.off.map((r) => r.p99Ms)))}`,
    'on / off p99 ms, runs': `${runs.on.map((r) => fmt(r.p99Ms)).join(' ')} / ${runs.off.map((r) => fmt(r.p99Ms)).join(' ')}`,
    'largest WAL MiB on / off, runs': `${runs.on.map((r) => fmt(r.walMiB)).join(' ')} / ${runs.off.map((r) => fmt(r.walMiB)).join(' ')}`,
    result: met.ratio && met.rate && met.p99 ? 'MET' : 'NOT MET',
  })
  printResult({ target: 'scheduler claims', figure: `${fmt(on)} claims/s, ${fmt(ratio)} × off`, goal: `>= ${RATE} claims/s and >= ${RATIO} × off`, met: met.ratio && met.rate, baseline: `${fmt(off)} claims/s with ICEPROD_SCHEDULER=off` })
  printResult({ target: 'claim p99', figure: `${fmt(p99)} ms (scheduler on)`, goal: `<= ${P99_MS} ms`, met: met.p99, baseline: `${fmt(median(runs.off.map((r) => r.p99Ms)))} ms off` })
} finally {
  await stopTracked()
  cleanup()
}
