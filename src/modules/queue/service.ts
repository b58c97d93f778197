/**
 * The task lifecycle that makes the server a working queue (API.md 4.5.1):
 * queue (waiting -> queued), process (queued -> processing, one task per
 * pilot), reset (-> reset) and complete (processing -> complete).
 *
 * Every action runs inside a write transaction taken with BEGIN IMMEDIATE
 * (claims that arrive together share one, see `claim`), and every status
 * change is a `json_set` on the task document, so the status-count and
 * task_queue triggers follow it in the same transaction. The task_queue table
 * holds exactly the queued tasks (see the task_queue migration): a claim walks
 * it in (priority DESC, seq) order on its covering index.
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { GroupCommit } from '../../db/group-commit'
import { timestamp } from '../../db/documents'
import { fail } from '../../errors'
import { queueQueries } from './queries'
import { fits, numericBounds, type NumericKey, type Requirements } from './requirements'

export const DEFAULT_NUM_TASKS = 100

/** A (dataset, status) with queueable tasks. */
type Source = { dataset_id: string | null; status: string }

interface ReadyRow {
  seq: number
  task_id: string
}

/** An open cursor over one source's ready tasks and the row it stands on. */
interface Cursor {
  rows: IterableIterator<ReadyRow>
  head: ReadyRow
}

export class QueueService {
  private readonly queries
  /** Claims that arrive together share one write transaction, taken in arrival order. */
  private readonly claims: GroupCommit<Record<string, unknown>, string | undefined>

  constructor(
    private readonly db: Db,
    private readonly clock: Clock = systemClock,
  ) {
    this.queries = queueQueries(db)
    this.claims = new GroupCommit(db, (offer) => this.takeFirstFitting(offer))
  }

  // ---- queue ----

  /**
   * Moves up to `numTasks` ready waiting tasks to `queued`: datasets
   * with a higher weight first (unlisted ones weigh 0), then creation order.
   * Returns how many were queued.
   */
  queue(numTasks: number, weights: Record<string, number>): number {
    if (numTasks <= 0) return 0
    return writeTx(this.db, () => {
      const chosen = this.pickReady(numTasks, weights)
      const now = timestamp(this.clock())
      for (const taskId of chosen) this.queries.markQueued.run({ task_id: taskId, now })
      return chosen.length
    })
  }

  /** Task ids to queue, in queue order: weight groups from heaviest, each merged by creation order. */
  private pickReady(limit: number, weights: Record<string, number>): string[] {
    const groups = new Map<number, Source[]>()
    for (const source of this.queries.pendingSources.all()) {
      const datasetId = source.dataset_id as string
      const weight = Object.hasOwn(weights, datasetId) ? (weights[datasetId] as number) : 0
      const group = groups.get(weight)
      if (group) group.push(source)
      else groups.set(weight, [source])
    }
    const chosen: string[] = []
    for (const weight of [...groups.keys()].sort((a, b) => b - a)) {
      if (chosen.length >= limit) break
      this.mergeReady(groups.get(weight) as Source[], limit, chosen)
    }
    return chosen
  }

  /**
   * Appends ready tasks of `sources` to `chosen` in creation order until it holds
   * `limit`: a k-way merge of per-source index cursors, each read only as far
   * as needed, so no set of waiting tasks is ever sorted.
   */
  private mergeReady(sources: Source[], limit: number, chosen: string[]): void {
    const open: IterableIterator<ReadyRow>[] = []
    const heap = new CursorHeap()
    try {
      sources.forEach((source, i) => {
        const rows = this.queries.readyTasks(i).iterate(source)
        open.push(rows)
        const first = rows.next()
        if (!first.done) heap.push({ rows, head: first.value })
      })
      while (chosen.length < limit) {
        const top = heap.peek()
        if (!top) break
        chosen.push(top.head.task_id)
        const next = top.rows.next()
        if (next.done) heap.pop()
        else {
          top.head = next.value
          heap.headChanged()
        }
      }
    } finally {
      // Ends every cursor, which resets its statement for the next action.
      for (const rows of open) rows.return?.()
    }
  }

  // ---- process ----

  /**
   * Claims the first queued task, in (dataset priority DESC, creation) order,
   * whose requirements the offer meets: sets it `processing` and resolves to the
   * updated task as JSON text, or undefined when none fits.
   *
   * Claims that arrive together are taken in one write transaction (group
   * commit), one after another in arrival order: each sees the ones before it,
   * and none is answered before the transaction has committed. A busy server
   * then pays one commit for many claims instead of one per claim.
   */
  claim(offer: Record<string, unknown>): Promise<string | undefined> {
    return this.claims.run(offer)
  }

  /** Inside a write transaction: takes the first queued task that fits the offer. */
  private takeFirstFitting(offer: Record<string, unknown>): string | undefined {
    const bounds = numericBounds(offer)
    for (;;) {
      const taskId = this.firstFitting(bounds, offer)
      if (taskId === undefined) return undefined
      const claimed = this.queries.markProcessing.get({ task_id: taskId, now: timestamp(this.clock()) })
      if (claimed) return claimed.doc
      // A queue row without a queued task (the triggers never leave one): drop it and look again.
      this.queries.dropQueueRow.run({ task_id: taskId })
    }
  }

  private firstFitting(bounds: Record<NumericKey, number>, offer: Record<string, unknown>): string | undefined {
    // Many queued tasks share the same requirements (same dataset and task name):
    // judge each distinct requirements text once per claim.
    const verdicts = new Map<string, boolean>()
    for (const row of this.queries.claimCandidates.iterate(bounds)) {
      const text = row.other_requirements
      if (text === null) return row.task_id
      let fit = verdicts.get(text)
      if (fit === undefined) {
        fit = fits(JSON.parse(text) as Requirements, offer)
        verdicts.set(text, fit)
      }
      if (fit) return row.task_id
    }
    return undefined
  }

  // ---- reset and complete ----

  /**
   * A task that is not complete becomes `reset` with one more failure; with
   * `timeUsed` (seconds) its error walltime grows by that many hours. Returns
   * the updated task as JSON text; 404 if missing or complete.
   */
  reset(taskId: string, timeUsed: number | undefined): string {
    return writeTx(this.db, () => {
      const now = timestamp(this.clock())
      const row = timeUsed === undefined
        ? this.queries.reset.get({ task_id: taskId, now })
        : this.queries.resetTimed.get({ task_id: taskId, now, hours: timeUsed / 3600 })
      return row?.doc ?? this.refuse(taskId, 'is complete')
    })
  }

  /**
   * A processing task becomes `complete`; with `timeUsed` (seconds) its walltime
   * is set to that many hours. Returns the updated task as JSON text; 404 if
   * missing or not processing.
   */
  complete(taskId: string, timeUsed: number | undefined): string {
    return writeTx(this.db, () => {
      const now = timestamp(this.clock())
      const row = timeUsed === undefined
        ? this.queries.complete.get({ task_id: taskId, now })
        : this.queries.completeTimed.get({ task_id: taskId, now, hours: timeUsed / 3600 })
      return row?.doc ?? this.refuse(taskId, 'is not processing')
    })
  }

  private refuse(taskId: string, why: string): never {
    const task = this.queries.status.get({ task_id: taskId })
    if (!task) fail(404, `task ${taskId} not found`)
    fail(404, `task ${taskId} ${why} (status ${task.status})`)
  }
}

/** A binary min-heap of cursors ordered by the creation order (seq) of their head rows. */
class CursorHeap {
  private readonly items: Cursor[] = []

  peek(): Cursor | undefined {
    return this.items[0]
  }

  push(cursor: Cursor): void {
    const items = this.items
    items.push(cursor)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((items[parent] as Cursor).head.seq <= cursor.head.seq) break
      items[i] = items[parent] as Cursor
      i = parent
    }
    items[i] = cursor
  }

  pop(): void {
    const last = this.items.pop()
    if (last && this.items.length > 0) {
      this.items[0] = last
      this.headChanged()
    }
  }

  /** Restores the order after the top cursor moved to a later row. */
  headChanged(): void {
    const items = this.items
    const top = items[0]
    if (!top) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= items.length) break
      const right = left + 1
      const child = right < items.length && (items[right] as Cursor).head.seq < (items[left] as Cursor).head.seq ? right : left
      if ((items[child] as Cursor).head.seq >= top.head.seq) break
      items[i] = items[child] as Cursor
      i = child
    }
    items[i] = top
  }
}
