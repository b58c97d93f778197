/**
 * Claims with the scheduler on (API.md §6.2), inside the claims' shared
 * transaction (see ClaimService.claim): only tasks of datasets that are
 * `processing` or `truncated` and of jobs that are `processing`; among the
 * datasets of the highest priority, the one with the fewest tasks processing
 * now (fair share), then the older dataset; within a dataset, the task created
 * first. Every claim gives the task a new `instance_id`, over the one it was
 * made with (Transitions.instanceOfNewTask); a claim naming a
 * `pilot_id` (an existing pilot, else 400) adds the task to that pilot's `tasks`.
 *
 * No claim scans: the claimable datasets and their processing counts are read
 * once per shared transaction from the maintained `task_counts` (a few rows
 * per dataset) and kept up to date in memory by the claims of that
 * transaction; each dataset is probed along its (dataset, job_active = 1,
 * seq) range of the queue's index, whose entries carry the numeric
 * requirements, over exactly the queued tasks, marked by triggers with
 * whether their job is processing.
 */
import type { Db } from '../../db'
import { newId } from '../../db/documents'
import { fail } from '../../errors'
import type { Actor } from '../history/service'
import { firstThatFits, numericBounds, type NumericKey, type Offer } from '../queue/requirements'
import { schedulerQueries } from './queries'
import type { TaskRef } from './refs'
import type { Transitions } from './transitions'

/** A claimable dataset in claim order, with its processing count as claims go on. */
interface Slot {
  /** The dataset's rowid: its key in task_queue, and its creation order (the last tie-break). */
  dataset: number
  priority: number
  processing: number
}

export type ClaimedTask = TaskRef & { doc: string; listed: number }

/** Fair order: higher priority first, then fewer processing, then the older dataset. */
const before = (a: Slot, b: Slot) => b.priority - a.priority || a.processing - b.processing || a.dataset - b.dataset

export class FairShareClaims {
  /** The claimable datasets in claim order, read at the first claim of a shared transaction. */
  private slots: Slot[] | undefined
  private readonly queries

  constructor(
    db: Db,
    private readonly transitions: Transitions,
  ) {
    this.queries = schedulerQueries(db)
  }

  /**
   * Inside the claims' shared transaction: takes the first fitting task in
   * fair order for `by`, and adds it to the pilot's tasks when `pilotId` is
   * given. Resolves to the claimed task as JSON text, or undefined when none fits.
   */
  claim(offer: Offer, by: Actor, pilotId: string | undefined): string | undefined {
    const { queries } = this
    if (pilotId !== undefined && !queries.pilotExists.get({ pilot_id: pilotId })) fail(400, `no such pilot: ${pilotId}`)
    const claimed = this.take(numericBounds(offer), offer)
    if (!claimed) return undefined
    this.transitions.task(claimed, 'queued', 'processing', by)
    // A task a pilot claims leaves any other pilot's list: a pilot deleted later must not take it back from its new one.
    if (claimed.listed) queries.delist.run({ task_id: claimed.task_id })
    if (pilotId !== undefined) queries.addToPilot.run({ pilot_id: pilotId, task_id: claimed.task_id, now: this.transitions.now() })
    return claimed.doc
  }

  /** A new shared transaction begins: what the last one knew may be out of date. */
  newBatch(): void {
    this.slots = undefined
  }

  /** Takes the first task in fair order that the offer fits, or undefined. */
  private take(bounds: Record<NumericKey, number>, offer: Offer): ClaimedTask | undefined {
    const slots = (this.slots ??= this.queries.claimable.all().sort(before))
    for (let i = 0; i < slots.length; i++) {
      const claimed = this.takeFrom(slots[i]!.dataset, bounds, offer)
      if (claimed) {
        this.countClaim(slots, i)
        return claimed
      }
    }
    return undefined
  }

  private takeFrom(dataset: number, bounds: Record<NumericKey, number>, offer: Offer): ClaimedTask | undefined {
    const { queries } = this
    // Shared by the probes of one claim: the same requirements text is judged once.
    const verdicts = new Map<string, boolean>()
    for (let after = -1; ; ) {
      const candidate = firstThatFits(queries.candidates.iterate({ dataset, after, ...bounds }), offer, verdicts)
      if (!candidate) return undefined
      const claimed = queries.markProcessing.get({ task_id: candidate.task_id, now: this.transitions.now(), instance_id: newId() })
      if (claimed) return claimed
      // A queue row without a queued task (the triggers never leave one): drop it and look further.
      queries.dropQueueRow.run({ task_id: candidate.task_id })
      after = candidate.seq
    }
  }

  /** One more task processing in slot i: it moves back past the slots now ahead of it. */
  private countClaim(slots: Slot[], i: number): void {
    const slot = slots[i]!
    slot.processing++
    while (i + 1 < slots.length && before(slots[i + 1]!, slot) < 0) {
      slots[i] = slots[i + 1]!
      i++
    }
    slots[i] = slot
  }
}
