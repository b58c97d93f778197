/**
 * A bulk reset of 100,000 tasks (issue "Operator actions", point 2): POST
 * /datasets/<d>/task_actions/bulk_reset {"status": ["failed"]}, with the
 * scheduler on: each failed task waits again and is queued at once (two
 * history entries each), its job rolled up, in one transaction. Target: <= 2 s,
 * on the executable `bun run build` makes. Three datasets (--shape):
 * - jobs-of-10 (the target's): 100,000 failed tasks, 10,000 jobs of 10 in
 *   errors, the dataset in errors: every job and the dataset run again;
 * - jobs-of-1: 100,000 jobs of one failed task each: 100,000 jobs roll up;
 * - spread: the dataset of 1M tasks (10,000 jobs of 100) whose 10% failed
 *   tasks are every tenth one, so that the reset rewrites most of its pages.
 *
 * Baseline (bench/baseline-server.ts, same run): the straightforward way, a
 * loop of single-task changes in one transaction: per task an UPDATE to
 * waiting, a history INSERT, an UPDATE to queued and another INSERT, and no
 * roll-up. A/B/A/B on fresh copies of the seeded file, medians.
 *
 * Meanwhile another process (bench/reader.ts) reads random tasks from the
 * same file: its worst read shows that the long write transaction keeps no
 * reader waiting (WAL). Afterwards the file is checked: no task failed, the
 * tasks queued grew by exactly the tasks reset, the maintained counts equal
 * a recount, and (the project) two history entries per task.
 * Usage: bun bench/bulk.ts [--quick] [--rounds N]
 */
import { parseArgs } from 'node:util'
import { Database } from 'bun:sqlite'
import { alternate, SIDES, type Side } from './lib/ab'
import { countsMatchRecount } from './lib/counts'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, removeDatabase, tempDir, type CachedSeed } from './lib/seed'
import { startSide, stopTracked, token } from './lib/servers'
import { failedDataset, oneBigDataset } from './shapes'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' }, shape: { type: 'string' } } })
const quick = values.quick
const rounds = Number(values.rounds ?? (quick ? 1 : 2))
const TARGET_SECONDS = 2
const SHAPES = {
  'jobs-of-10': () => failedDataset(quick ? 2_000 : 10_000, 10),
  'jobs-of-1': () => failedDataset(quick ? 20_000 : 100_000, 1),
  spread: () => oneBigDataset(quick),
}
type Shape = keyof typeof SHAPES
const shapes = (values.shape?.split(',') ?? Object.keys(SHAPES)) as Shape[]
for (const shape of shapes) if (!(shape in SHAPES)) throw new Error(`--shape: no shape ${shape} (${Object.keys(SHAPES).join(', ')})`)

let seeded: CachedSeed
let datasetId: string
let bearer: string
const { dir, cleanup } = tempDir('bulk')

interface Counts {
  failed: number
  queued: number
  entries: number
  countsEqualRecount: boolean
}

function counts(db: string): Counts {
  const sqlite = new Database(db, { readonly: true })
  try {
    const n = (sql: string, ...params: string[]) => (sqlite.query(sql).get(...params) as { n: number }).n
    return {
      failed: n("SELECT count(*) AS n FROM tasks WHERE dataset_id = ? AND status = 'failed'", datasetId),
      queued: n('SELECT count(*) AS n FROM task_queue q JOIN tasks t ON t.task_id = q.task_id WHERE t.dataset_id = ?', datasetId),
      entries: n('SELECT count(*) AS n FROM status_history WHERE kind = 2'),
      countsEqualRecount: countsMatchRecount(sqlite, datasetId),
    }
  } finally {
    sqlite.close()
  }
}

interface Round {
  seconds: number
  changed: number
  readerMaxMs: number
  readerP99Ms: number
}

async function round(side: Side): Promise<Round> {
  const db = copyDatabase(seeded.path, dir, `${side}.sqlite`)
  const before = counts(db)
  const proc = await startSide(side, db, { ICEPROD_SCHEDULER: 'on' })
  const reader = Bun.spawn(['bun', 'bench/reader.ts', '--db', db, '--seconds', quick ? '3' : '6'], { stdout: 'pipe', stderr: 'pipe' })
  const stderr = reader.stderr.getReader()
  while (!new TextDecoder().decode((await stderr.read()).value).includes('reading'));
  await Bun.sleep(500)
  const started = performance.now()
  const response = await fetch(`${proc.url}/datasets/${datasetId}/task_actions/bulk_reset`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ status: ['failed'] }),
  })
  const seconds = (performance.now() - started) / 1000
  const text = await response.text()
  if (response.status !== 200) throw new Error(`${side}: ${response.status} ${text}`)
  const read = JSON.parse(await new Response(reader.stdout).text()) as { reads: number; p99Ms: number; maxMs: number }
  await proc.stop()
  const after = counts(db)
  removeDatabase(db)
  const changed = (JSON.parse(text) as { changed: number }).changed
  if (changed !== before.failed || after.failed !== 0) throw new Error(`${side}: ${changed} changed of ${before.failed} failed, ${after.failed} left`)
  if (after.queued - before.queued !== changed) throw new Error(`${side}: the queue grew by ${after.queued - before.queued}, not ${changed}`)
  if (!after.countsEqualRecount) throw new Error(`${side}: the maintained counts differ from a recount`)
  if (after.entries - before.entries !== 2 * changed) throw new Error(`${side}: ${after.entries - before.entries} history entries for ${changed} tasks`)
  console.log(`  ${side}: ${changed} tasks reset in ${fmt(seconds)} s; another process read ${read.reads} tasks meanwhile, p99 ${fmt(read.p99Ms)} ms, worst ${fmt(read.maxMs)} ms`)
  return { seconds, changed, readerMaxMs: read.maxMs, readerP99Ms: read.p99Ms }
}

const cpu = cpuShare()
try {
  const measured: { shape: Shape; project: Round[]; baseline: Round[]; tasks: number }[] = []
  for (const shape of shapes) {
    seeded = SHAPES[shape]()
    datasetId = seeded.datasetIds[0]!
    bearer = token(seeded.path, 'admin')
    const runs = await alternate(rounds, SIDES, round)
    measured.push({ shape, ...runs, tasks: seeded.taskIds.length })
  }
  printCpuShare(cpu.stop())
  const lines: Record<string, string | number> = {}
  for (const { shape, project, baseline, tasks } of measured) {
    lines[`${shape}: tasks reset / in the dataset`] = `${project[0]!.changed} / ${tasks}`
    lines[`${shape}: project s (median; runs)`] = `${fmt(median(project.map((r) => r.seconds)))}; ${project.map((r) => fmt(r.seconds)).join(' ')}`
    lines[`${shape}: baseline s (median; runs)`] = `${fmt(median(baseline.map((r) => r.seconds)))}; ${baseline.map((r) => fmt(r.seconds)).join(' ')}`
    lines[`${shape}: baseline / project`] = median(baseline.map((r) => r.seconds)) / median(project.map((r) => r.seconds))
    lines[`${shape}: another process's reads, worst / p99 ms`] = `${fmt(Math.max(...project.map((r) => r.readerMaxMs)))} / ${fmt(median(project.map((r) => r.readerP99Ms)))}`
  }
  const target = measured.find((m) => m.shape === 'jobs-of-10') ?? measured[0]!
  const seconds = median(target.project.map((r) => r.seconds))
  lines[`target: ${target.shape} <= ${TARGET_SECONDS} s`] = seconds <= TARGET_SECONDS ? 'MET' : 'NOT MET'
  report('bulk reset of the failed tasks of a dataset (scheduler on, one transaction)', lines)
  printResult({
    target: 'bulk reset',
    figure: `${fmt(seconds)} s for ${target.project[0]!.changed} tasks (${target.shape}); ${measured.filter((m) => m !== target).map((m) => `${m.shape} ${fmt(median(m.project.map((r) => r.seconds)))} s`).join(', ')}`,
    goal: `<= ${TARGET_SECONDS} s`,
    met: seconds <= TARGET_SECONDS,
    baseline: `${fmt(median(target.baseline.map((r) => r.seconds)))} s (a loop of single-task changes in one transaction, no roll-up)`,
  })
} finally {
  await stopTracked()
  cleanup()
}
