/**
 * Claims (API.md 4.5.1, `process`): a pilot offers resources and takes the
 * first queued task, in (dataset priority DESC, creation) order, whose
 * requirements the offer meets; the task becomes `processing`. A claim walks
 * the task_queue table on its covering index.
 */
import { systemClock, type Clock } from '../../clock'
import type { Db } from '../../db'
import { timestamp } from '../../db/documents'
import { GroupCommit } from '../../db/group-commit'
import type { Actor } from '../history/service'
import type { OfferLog } from '../progress/offers'
import { FairShareClaims } from '../scheduler/claims'
import type { Transitions } from '../scheduler/transitions'
import { queueQueries } from './queries'
import { firstThatFits, numericBounds, type NumericKey, type Offer } from './requirements'

/** A claim: what the pilot offers, who claims, and the pilot to add the task to (with the scheduler). */
interface ClaimRequest {
  offer: Offer
  by: Actor
  pilotId?: string
}

export class ClaimService {
  private readonly queries
  /** Claims that arrive together share one write transaction; with the scheduler on they follow §6.2 (see scheduler/claims.ts). */
  private readonly claims: GroupCommit<ClaimRequest, string | undefined>

  constructor(
    db: Db,
    private readonly transitions: Transitions,
    private readonly clock: Clock = systemClock,
    /** Where every claim's offer is summed up, for the queue diagnostics (§7.3). */
    private readonly offers?: OfferLog,
  ) {
    this.queries = queueQueries(db)
    const fairShare = transitions.scheduling ? new FairShareClaims(db, transitions) : undefined
    this.claims = fairShare
      ? new GroupCommit(db, ({ offer, by, pilotId }) => fairShare.claim(offer, by, pilotId), { beforeBatch: () => fairShare.newBatch() })
      : new GroupCommit(db, (request) => this.takeFirstFitting(request))
  }

  /**
   * Claims the first queued task whose requirements the offer meets: sets it
   * `processing` and resolves to the updated task as JSON text, or undefined
   * when none fits.
   *
   * Claims that arrive together are taken in one write transaction (group
   * commit), one after another in arrival order: each sees the ones before it,
   * and none is answered before the transaction has committed. A busy server
   * then pays one commit for many claims instead of one per claim.
   */
  claim(offer: Offer, by: Actor, pilotId?: string): Promise<string | undefined> {
    this.offers?.record(offer)
    return this.claims.run({ offer, by, pilotId })
  }

  /** Inside a write transaction: takes the first queued task that fits the offer. */
  private takeFirstFitting({ offer, by }: ClaimRequest): string | undefined {
    const bounds = numericBounds(offer)
    for (;;) {
      const taskId = this.firstFitting(bounds, offer)
      if (taskId === undefined) return undefined
      const claimed = this.queries.markProcessing.get({ task_id: taskId, now: timestamp(this.clock()) })
      if (claimed) {
        this.transitions.task(claimed, 'queued', 'processing', by)
        return claimed.doc
      }
      // A queue row without a queued task (the triggers never leave one): drop it and look again.
      this.queries.dropQueueRow.run({ task_id: taskId })
    }
  }

  private firstFitting(bounds: Record<NumericKey, number>, offer: Offer): string | undefined {
    return firstThatFits(this.queries.claimCandidates.iterate(bounds), offer)?.task_id
  }
}
