/**
 * The queue action (API.md 4.5.1): ready waiting tasks become `queued`,
 * heavier datasets first, then in creation order. It runs in one
 * write transaction taken with BEGIN IMMEDIATE: the tasks are chosen here
 * (read along the indexes, never sorted), then changed together, set-based,
 * as the bulk actions change theirs (scheduler/bulk.ts).
 */
import { writeTx, type Db } from '../../db'
import type { Actor } from '../history/service'
import type { BulkTransitions } from '../scheduler/bulk'
import { CursorHeap } from './cursor-heap'
import { queueQueries } from './queries'
import { MAX_QUEUE_TASKS } from './model'

export const DEFAULT_NUM_TASKS = 100

/** A (dataset, status) with queueable tasks. */
type Source = { dataset_id: string | null; status: string }

export class QueueingService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly bulk: BulkTransitions,
  ) {
    this.queries = queueQueries(db)
  }

  /**
   * Moves up to `numTasks` (at most MAX_QUEUE_TASKS) ready waiting tasks to
   * `queued`: datasets with a higher weight first (unlisted ones weigh 0),
   * then creation order. Returns how many were queued.
   */
  async queue(numTasks: number, weights: Record<string, number>, by: Actor): Promise<number> {
    if (numTasks <= 0) return 0
    return writeTx(this.db, () => this.bulk.queueTasks(this.pickReady(Math.min(numTasks, MAX_QUEUE_TASKS), weights), by))
  }

  /** The rowids of the tasks to queue, in queue order: weight groups from heaviest, each merged by creation order. */
  private pickReady(limit: number, weights: Record<string, number>): number[] {
    const groups = new Map<number, Source[]>()
    for (const source of this.queries.pendingSources.all()) {
      const datasetId = source.dataset_id as string
      const weight = Object.hasOwn(weights, datasetId) ? (weights[datasetId] as number) : 0
      const group = groups.get(weight)
      if (group) group.push(source)
      else groups.set(weight, [source])
    }
    const chosen: number[] = []
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
  private mergeReady(sources: Source[], limit: number, chosen: number[]): void {
    const open: IterableIterator<unknown>[] = []
    const heap = new CursorHeap<{ seq: number }>()
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
        chosen.push(top.head.seq)
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
}
