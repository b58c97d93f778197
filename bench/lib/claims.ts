/** The claims benchmarks' (claims, scheduler-claims) wrk runs, and what they check in the database file afterwards. */
import { Database } from 'bun:sqlite'
import type { RateRun } from './ab'
import type { Proc } from './servers'
import { wrkRun } from './wrk'

/** The offer of every claim in both benchmarks, so that their figures compare. */
export const CLAIM_OFFER = { requirements: { cpu: 4, memory: 8, disk: 100 } }

export interface QueueState {
  processing: number
  stillQueued: number
  processingIds: Set<string>
}

/** The processing tasks and what is left in the queue. */
export function queueState(db: string): QueueState {
  const sqlite = new Database(db, { readonly: true })
  try {
    const ids = sqlite.query<{ task_id: string }, []>("SELECT task_id FROM tasks WHERE status = 'processing'").all().map((r) => r.task_id)
    const stillQueued = sqlite.query<{ n: number }, []>('SELECT count(*) AS n FROM task_queue').get()!.n
    return { processing: ids.length, stillQueued, processingIds: new Set(ids) }
  } finally {
    sqlite.close()
  }
}

/** Every claimed task left the queue (of `queued` at the start), and nothing else did. */
export function checkQueueConservation(label: string, state: QueueState, queued: number): void {
  if (state.processing + state.stillQueued !== queued) {
    throw new Error(`${label}: ${state.processing} processing + ${state.stillQueued} still queued != ${queued} queued at start`)
  }
}

/**
 * After a wrk run of `connections` claiming pilots that `succeeded` answered
 * 200: the queue is conserved, and the processing tasks are those claims plus
 * at most the answers still in flight when wrk stopped (wrk drops them; the
 * server committed those claims).
 */
function checkClaimed(label: string, state: QueueState, { queued, succeeded, connections }: { queued: number; succeeded: number; connections: number }): void {
  checkQueueConservation(label, state, queued)
  const extra = state.processing - succeeded
  if (extra < 0 || extra > connections) throw new Error(`${label}: ${state.processing} tasks processing after ${succeeded} claims answered 200`)
}

/**
 * One wrk run of claims (POST /task_actions/process, `script` says the
 * offer) at `proc`, which it stops, then checked against its database file
 * `db`: every claim answered 200, and checkClaimed.
 */
export async function wrkClaims(label: string, proc: Proc, db: string, options: { connections: number; seconds: number; script: string; queued: number }): Promise<RateRun> {
  const { connections, seconds, script, queued } = options
  const run = wrkRun(`${proc.url}/task_actions/process`, { connections, seconds, script })
  await proc.stop()
  if (run.errors) throw new Error(`${label}: ${run.errors} socket errors`)
  if (run.non2xx) throw new Error(`${label}: ${run.non2xx} claims not answered 200 (queue of ${queued} exhausted? use fewer --seconds)`)
  checkClaimed(label, queueState(db), { queued, succeeded: run.succeeded, connections })
  return { rate: run.succeeded / run.seconds, p50Ms: run.p50Ms, p99Ms: run.p99Ms }
}
