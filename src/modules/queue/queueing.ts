/**
 * The queue action (API.md 4.5.1): ready waiting tasks become `queued`,
 * heavier datasets first, then in creation order. It runs in one
 * write transaction taken with BEGIN IMMEDIATE.
 */
import { systemClock, type Clock } from '../../clock'
import { writeTx, type Db } from '../../db'
import { timestamp } from '../../db/documents'
import type { Actor } from '../history/service'
import type { Transitions } from '../scheduler/transitions'
import { CursorHeap } from './cursor-heap'
import { queueQueries } from './queries'
import { MAX_QUEUE_TASKS } from './model'

export const DEFAULT_NUM_TASKS = 100

/** A (dataset, status) with queueable tasks. */
type Source = { dataset_id: string | null; status: string }

/** A task the queue action moves, with the status it leaves. */
type Chosen = { task_id: string; from: string }

export class QueueingService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly transitions: Transitions,
    private readonly clock: Clock = systemClock,
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
    return writeTx(this.db, () => {
      const chosen = this.pickReady(Math.min(numTasks, MAX_QUEUE_TASKS), weights)
      const now = timestamp(this.clock())
      for (const { task_id, from } of chosen) {
        const task = this.queries.markQueued.get({ task_id, now })!
        this.transitions.task(task, from, 'queued', by)
      }
      return chosen.length
    })
  }

  /** Tasks to queue, in queue order: weight groups from heaviest, each merged by creation order. */
  private pickReady(limit: number, weights: Record<string, number>): Chosen[] {
    const groups = new Map<number, Source[]>()
    for (const source of this.queries.pendingSources.all()) {
      const datasetId = source.dataset_id as string
      const weight = Object.hasOwn(weights, datasetId) ? (weights[datasetId] as number) : 0
      const group = groups.get(weight)
      if (group) group.push(source)
      else groups.set(weight, [source])
    }
    const chosen: Chosen[] = []
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
  private mergeReady(sources: Source[], limit: number, chosen: Chosen[]): void {
    const open: IterableIterator<unknown>[] = []
    const heap = new CursorHeap<{ seq: number; task_id: string; status: string }>()
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
        chosen.push({ task_id: top.head.task_id, from: top.head.status })
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
