/**
 * Target 4 — big lists: GET /datasets/<id>/tasks over a dataset of 1M tasks
 * streams its response: server peak RSS < 300 MB and >= 200k tasks/s.
 *
 * The client reads the body as it arrives and counts the tasks in it (each
 * stored task has one "task_id" key), so it keeps no more than one chunk;
 * with --quick (or --parse) it also keeps the body and checks it parses to
 * exactly the dataset's tasks. The server's VmRSS is sampled from
 * /proc/<pid>/status every 10 ms during the download; its VmHWM (the peak
 * since the process started) is read at the end, and the larger of the two
 * is the figure. A/B/A/B against the raw baseline (bench/baseline-server.ts),
 * which reads every row and builds the whole body before answering.
 * Usage: bun bench/big-list.ts [--quick] [--rounds N] [--parse]
 */
import { parseArgs } from 'node:util'
import { alternate, SIDES, type Side } from './lib/ab'
import { cpuShare, printCpuShare } from './lib/cpu'
import { memoryOf, sampleMemory } from './lib/memory'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, tempDir } from './lib/seed'
import { startSide, stopTracked, token } from './lib/servers'
import { oneBigDataset } from './shapes'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' }, parse: { type: 'boolean', default: false } } })
const quick = values.quick
const rounds = Number(values.rounds ?? (quick ? 1 : 2))
const parseBody = quick || values.parse
const TARGET_RSS_MB = 300
const TARGET_TASKS_PER_S = 200_000

const seeded = oneBigDataset(quick)
const datasetId = seeded.datasetIds[0]!
const authorization = `Bearer ${token(seeded.path, 'system')}`
const { dir, cleanup } = tempDir('big-list')
const TASK_KEY = Buffer.from('"task_id":"')

interface Download {
  tasks: number
  bytes: number
  seconds: number
  firstByteMs: number
  idleRssMb: number
  peakRssMb: number
  hwmMb: number
}

/** Downloads the listing, counting tasks as the bytes arrive, while sampling the server's memory. */
async function download(url: string, pid: number): Promise<Download> {
  const idleRssMb = memoryOf(pid).rssMb
  const sampler = sampleMemory(pid, 10)
  const started = performance.now()
  const response = await fetch(url, { headers: { authorization } })
  if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`)
  const reader = response.body!.getReader()
  let firstByteMs = NaN
  let tasks = 0
  let bytes = 0
  // The end of the previous chunk, so that a key split across two chunks is still found.
  let carry = Buffer.alloc(0)
  const kept: Uint8Array[] = []
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (Number.isNaN(firstByteMs)) firstByteMs = performance.now() - started
    bytes += value.byteLength
    if (parseBody) kept.push(value)
    const chunk = carry.length ? Buffer.concat([carry, value]) : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    for (let at = chunk.indexOf(TASK_KEY); at >= 0; at = chunk.indexOf(TASK_KEY, at + TASK_KEY.length)) tasks++
    carry = Buffer.from(chunk.subarray(Math.max(0, chunk.length - (TASK_KEY.length - 1))))
  }
  const seconds = (performance.now() - started) / 1000
  const memory = sampler.stop()
  if (parseBody) {
    const listing = JSON.parse(Buffer.concat(kept).toString('utf8')) as Record<string, { task_id: string }>
    const ids = Object.keys(listing)
    if (ids.length !== seeded.taskIds.length || ids.some((id, i) => id !== seeded.taskIds[i] || listing[id]!.task_id !== id)) {
      throw new Error(`the listing is not the dataset's ${seeded.taskIds.length} tasks in creation order`)
    }
  }
  if (tasks !== seeded.taskIds.length) throw new Error(`received ${tasks} tasks, the dataset has ${seeded.taskIds.length}`)
  return { tasks, bytes, seconds, firstByteMs, idleRssMb, peakRssMb: memory.peakRssMb, hwmMb: memory.hwmMb }
}

const cpu = cpuShare()
try {
  const db = copyDatabase(seeded.path, dir)
  const runs = await alternate(rounds, SIDES, async (server, round) => {
    // A fresh process per run: VmHWM then measures this one request.
    const proc = await startSide(server, db)
    const d = await download(`${proc.url}/datasets/${datasetId}/tasks`, proc.pid)
    await proc.stop()
    console.log(`  round ${round + 1} ${server}: ${d.tasks} tasks, ${fmt(d.bytes / 1e6)} MB in ${fmt(d.seconds)} s = ${fmt(d.tasks / d.seconds)} tasks/s; first byte ${fmt(d.firstByteMs)} ms; RSS idle ${fmt(d.idleRssMb)} MB, peak sampled ${fmt(d.peakRssMb)} MB, VmHWM ${fmt(d.hwmMb)} MB`)
    return d
  })
  const rate = (s: Side) => median(runs[s].map((d) => d.tasks / d.seconds))
  const peak = (s: Side) => median(runs[s].map((d) => Math.max(d.peakRssMb, d.hwmMb)))
  const worstPeak = Math.max(...runs.project.map((d) => Math.max(d.peakRssMb, d.hwmMb)))
  const memoryMet = worstPeak < TARGET_RSS_MB
  const rateMet = rate('project') >= TARGET_TASKS_PER_S
  printCpuShare(cpu.stop())
  report(`big list GET /datasets/<id>/tasks (${seeded.taskIds.length} tasks, ${fmt(runs.project[0]!.bytes / 1e6)} MB)`, {
    'project tasks/s (median)': rate('project'),
    'baseline tasks/s (median)': rate('baseline'),
    'project peak RSS MB (median, worst)': `${fmt(peak('project'))}, ${fmt(worstPeak)}`,
    'baseline peak RSS MB (median)': peak('baseline'),
    'project first byte ms (median)': median(runs.project.map((d) => d.firstByteMs)),
    'baseline first byte ms (median)': median(runs.baseline.map((d) => d.firstByteMs)),
    'body checked by JSON.parse': parseBody ? 'yes' : 'no (tasks counted by key)',
    result: memoryMet && rateMet ? 'MET' : 'NOT MET',
  })
  printResult({
    target: 'big list memory',
    figure: `peak RSS ${fmt(worstPeak)} MB (worst run)`,
    goal: `< ${TARGET_RSS_MB} MB`,
    met: memoryMet,
    baseline: `${fmt(peak('baseline'))} MB (materialised)`,
  })
  printResult({
    target: 'big list rate',
    figure: `${fmt(rate('project'))} tasks/s`,
    goal: `>= ${TARGET_TASKS_PER_S} tasks/s`,
    met: rateMet,
    baseline: `${fmt(rate('baseline'))} tasks/s (materialised)`,
  })
} finally {
  await stopTracked()
  cleanup()
}
