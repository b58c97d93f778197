/**
 * Diagnostic (not a target): how much of the claims' and creations' latency
 * tail and cost is WAL checkpointing: the checkpoint SQLite runs inline, on
 * the committing write, every `wal_autocheckpoint` pages, and the background
 * worker a server starts (PASSIVE every 200 ms; past RESTART_PAGES the
 * writer checkpoints the last stretch and starts the WAL over; the inline one
 * left as a backstop at 50,000 pages).
 *
 * In process, without HTTP: 32 concurrent claimers through ClaimService and
 * 16 concurrent creators through TaskService (the services the routes use,
 * with their group commit) on a copy of the 1M-task database: with the
 * connection as openDatabase configures it (inline checkpoints), with the
 * worker as a server runs it, and with no checkpoints at all
 * (PRAGMA wal_autocheckpoint = 0, no worker). Prints operations per second,
 * the p99, and every stall over 50 ms seen by one of the loops, with the
 * operation count at which it happened.
 * Usage: bun bench/checkpoint-stalls.ts [--quick] [--seconds N]
 */
import { parseArgs } from 'node:util'
import { closeDatabase, openDatabase, startBackgroundCheckpoints } from '../src/db'
import { ClaimService } from '../src/modules/queue/claims'
import { TaskService } from '../src/modules/tasks/service'
import { HistoryService, SERVER } from '../src/modules/history/service'
import { Transitions } from '../src/modules/scheduler/transitions'
import { fmt, percentile } from './lib/report'
import { copyDatabase, removeDatabase, tempDir } from './lib/seed'
import { oneBigDataset } from './shapes'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, seconds: { type: 'string' } } })
// Short enough that the claimers do not empty the queue (100k queued, 20k with --quick).
const seconds = Number(values.seconds ?? (values.quick ? 1 : 4))
const seeded = oneBigDataset(values.quick)
const datasetId = seeded.datasetIds[0]!
const { dir, cleanup } = tempDir('checkpoint')
const STALL_MS = 50

interface Outcome {
  perSecond: number
  p99Ms: number
  stalls: string[]
}

/** `loops` concurrent loops of `operation` for `seconds`; stalls as seen by loop 0. */
async function drive(loops: number, operation: (n: number) => Promise<unknown>): Promise<Outcome> {
  let done = 0
  const latencies: number[] = []
  const stalls: string[] = []
  const started = performance.now()
  const deadline = started + seconds * 1000
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      while (performance.now() < deadline) {
        const t = performance.now()
        await operation(done)
        const ms = performance.now() - t
        done++
        latencies.push(ms)
        if (loop === 0 && ms > STALL_MS) stalls.push(`${fmt(ms)} ms at op ${done}`)
      }
    }),
  )
  return { perSecond: done / ((performance.now() - started) / 1000), p99Ms: percentile(latencies, 99), stalls }
}

type Checkpoints = 'inline' | 'worker' | 'none'
const LABELS: Record<Checkpoints, string> = {
  inline: 'inline autocheckpoint (as openDatabase configures)',
  worker: 'background worker (as a server runs)',
  none: 'no checkpoints (wal_autocheckpoint = 0)',
}

async function measure(kind: 'claims' | 'creations', checkpoints: Checkpoints): Promise<Outcome> {
  const path = copyDatabase(seeded.path, dir)
  const { db, sqlite } = openDatabase(path)
  const transitions = new Transitions(db, new HistoryService(db), { scheduling: false, maxFailures: 10, clock: Date.now })
  if (checkpoints === 'none') sqlite.exec('PRAGMA wal_autocheckpoint = 0')
  const stopWorker = checkpoints === 'worker' ? await startBackgroundCheckpoints(sqlite, path) : undefined
  try {
    if (kind === 'claims') {
      const queue = new ClaimService(db, transitions)
      return await drive(32, async () => {
        if ((await queue.claim({ cpu: 4, memory: 8 }, SERVER)) === undefined) throw new Error('the queue ran dry: use fewer --seconds')
      })
    }
    const tasks = new TaskService(db, transitions)
    const jobs = sqlite.query<{ job_id: string }, [string]>('SELECT job_id FROM jobs WHERE dataset_id = ? LIMIT 1000').all(datasetId).map((r) => r.job_id)
    return await drive(16, (n) =>
      tasks.create({ dataset_id: datasetId, job_id: jobs[n % jobs.length]!, task_index: 1000 + n, name: 'diagnostic', depends: [], requirements: { cpu: 1 } }),
    )
  } finally {
    await stopWorker?.()
    closeDatabase(sqlite)
    removeDatabase(path)
  }
}

try {
  for (const kind of (process.env.KINDS ?? 'claims,creations').split(',') as ('claims' | 'creations')[]) {
    for (const checkpoints of (process.env.CK ?? 'inline,worker,none,inline,worker,none').split(',') as Checkpoints[]) {
      const o = await measure(kind, checkpoints)
      const label = `${kind}, ${LABELS[checkpoints]}`
      console.log(`${label.padEnd(64)} ${fmt(o.perSecond).padStart(6)}/s  p99 ${fmt(o.p99Ms)} ms  stalls > ${STALL_MS} ms: ${o.stalls.length ? o.stalls.join(', ') : 'none'}`)
    }
  }
} finally {
  cleanup()
}
