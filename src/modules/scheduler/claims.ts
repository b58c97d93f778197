/**
 * Claims with the scheduler on (API.md §6.2), inside the claims' shared
 * transaction (see ClaimService.claim): only tasks of datasets that are
 * `processing` or `truncated` and of jobs that are `processing`; among the
 * datasets of the highest priority, the one with the fewest tasks processing
 * now (fair share), then the older dataset; within a dataset, the task created
 * first. Every claim gives the task a new `instance_id`; a claim naming a
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
import type { Database, Statement } from 'bun:sqlite'
import { newId } from '../../db/documents'
import { lazy } from '../../db/lazy'
import { fail } from '../../errors'
import type { Actor } from '../history/service'
import { firstThatFits, numericBounds, type NumericKey } from '../queue/requirements'
import { TASK_REF_COLUMNS, type TaskRef } from './refs'
import type { Transitions } from './transitions'

/** A claimable dataset in claim order, with its processing count as claims go on. */
interface Slot {
  /** The dataset's rowid: its key in task_queue, and its creation order (the last tie-break). */
  dataset: number
  priority: number
  processing: number
}

interface Candidate {
  seq: number
  taskId: string
  other_requirements: string | null
}

export type ClaimedTask = TaskRef & { doc: string }

const CLAIMABLE = `
  SELECT d.rowid AS dataset, d.priority AS priority,
    coalesce((SELECT n FROM task_counts p WHERE p.dataset_id = q.dataset_id AND p.status = 'processing'), 0) AS processing
  FROM task_counts q JOIN datasets d ON d.dataset_id = q.dataset_id
  WHERE q.status = 'queued' AND q.n > 0 AND d.status IN ('processing', 'truncated')`
// One dataset's queued tasks of processing jobs after `$after`, in creation
// order, numeric requirements tested on the index (as the claim service's
// candidates). The unary + on the parameter is for speed: an equality between
// an index column and a bare parameter costs SQLite about 5 µs more a probe
// than one with a value or an expression (measured on bun:sqlite; the plan is the same).
const CANDIDATES = `
  SELECT seq, task_id AS taskId, CASE WHEN has_other THEN requirements END AS other_requirements FROM task_queue
  WHERE dataset = +$dataset AND job_active = 1 AND seq > $after
    AND (cpu IS NULL OR cpu <= $cpu) AND (gpu IS NULL OR gpu <= $gpu) AND (memory IS NULL OR memory <= $memory)
    AND (disk IS NULL OR disk <= $disk) AND (time IS NULL OR time <= $time)
  ORDER BY seq`
/**
 * A task a pilot claims leaves any other pilot's list: a pilot deleted later
 * must not take it back from its new one. Most claimed tasks are on no list,
 * which one index lookup tells.
 */
const LISTED = `SELECT 1 AS listed FROM pilot_tasks WHERE task_id = $taskId LIMIT 1`
const DELIST = `
  UPDATE pilots SET doc = json_set(doc, '$.tasks', json((SELECT json_group_array(value) FROM json_each(pilots.doc, '$.tasks') WHERE value IS NOT $taskId)))
  WHERE pilot_id IN (SELECT pilot_id FROM pilot_tasks WHERE task_id = $taskId)`
const MARK_PROCESSING = `
  UPDATE tasks SET doc = json_set(doc, '$.status', 'processing', '$.status_changed', $now, '$.instance_id', $instanceId)
  WHERE task_id = $taskId AND status = 'queued'
  RETURNING ${TASK_REF_COLUMNS}, doc`

/** Fair order: higher priority first, then fewer processing, then the older dataset. */
const before = (a: Slot, b: Slot) => b.priority - a.priority || a.processing - b.processing || a.dataset - b.dataset

export class FairShareClaims {
  /** The claimable datasets in claim order, read at the first claim of a shared transaction. */
  private slots: Slot[] | undefined
  private readonly claimable: () => Statement<Slot> = lazy(() => this.sqlite.prepare(CLAIMABLE))
  private readonly candidates: () => Statement<Candidate> = lazy(() => this.sqlite.prepare(CANDIDATES))
  private readonly markProcessing: () => Statement<ClaimedTask> = lazy(() => this.sqlite.prepare(MARK_PROCESSING))
  private readonly dropQueueRow: () => Statement = lazy(() => this.sqlite.prepare(`DELETE FROM task_queue WHERE task_id = $taskId`))
  private readonly listed: () => Statement<{ listed: number }> = lazy(() => this.sqlite.prepare(LISTED))
  private readonly delist: () => Statement = lazy(() => this.sqlite.prepare(DELIST))
  private readonly pilotExists: () => Statement<{ one: number }> = lazy(() => this.sqlite.prepare(`SELECT 1 AS one FROM pilots WHERE pilot_id = $pilotId`))
  // A claim is the pilot at work: its last_update is refreshed as a PUT of its tasks would.
  private readonly addToPilot: () => Statement = lazy(() =>
    this.sqlite.prepare(`
      UPDATE pilots SET doc = json_set(doc,
        '$.tasks', json_insert(CASE WHEN json_type(doc, '$.tasks') = 'array' THEN json_extract(doc, '$.tasks') ELSE '[]' END, '$[#]', $taskId),
        '$.last_update', $now)
      WHERE pilot_id = $pilotId`),
  )

  constructor(
    private readonly sqlite: Database,
    private readonly transitions: Transitions,
  ) {}

  /**
   * Inside the claims' shared transaction: takes the first fitting task in
   * fair order for `by`, and adds it to the pilot's tasks when `pilotId` is
   * given. Resolves to the claimed task as JSON text, or undefined when none fits.
   */
  claim(offer: Record<string, unknown>, by: Actor, pilotId: string | undefined): string | undefined {
    if (pilotId !== undefined && !this.pilotExists().get({ pilotId })) fail(400, `no such pilot: ${pilotId}`)
    const claimed = this.take(numericBounds(offer), offer)
    if (!claimed) return undefined
    this.transitions.task(claimed, 'queued', 'processing', by)
    if (this.listed().get({ taskId: claimed.taskId })) this.delist().run({ taskId: claimed.taskId })
    if (pilotId !== undefined) this.addToPilot().run({ pilotId, taskId: claimed.taskId, now: this.transitions.now() })
    return claimed.doc
  }

  /** The SQL of the claim's queries, for query-plan checks. */
  queriesForPlanCheck(): { name: string; sql: string }[] {
    return [
      { name: 'claimable datasets', sql: CLAIMABLE },
      { name: 'candidates in a dataset', sql: CANDIDATES },
      { name: 'mark processing', sql: MARK_PROCESSING },
      { name: 'listed by a pilot', sql: LISTED },
      { name: 'delist', sql: DELIST },
    ]
  }

  /** A new shared transaction begins: what the last one knew may be out of date. */
  newBatch(): void {
    this.slots = undefined
  }

  /** Takes the first task in fair order that the offer fits, or undefined. */
  private take(bounds: Record<NumericKey, number>, offer: Record<string, unknown>): ClaimedTask | undefined {
    const slots = (this.slots ??= this.claimable().all().sort(before))
    for (let i = 0; i < slots.length; i++) {
      const claimed = this.takeFrom(slots[i]!.dataset, bounds, offer)
      if (claimed) {
        this.countClaim(slots, i)
        return claimed
      }
    }
    return undefined
  }

  private takeFrom(dataset: number, bounds: Record<NumericKey, number>, offer: Record<string, unknown>): ClaimedTask | undefined {
    // Shared by the probes of one claim: the same requirements text is judged once.
    const verdicts = new Map<string, boolean>()
    for (let after = -1; ; ) {
      const candidate = firstThatFits(this.candidates().iterate({ dataset, after, ...bounds } as never), offer, verdicts)
      if (!candidate) return undefined
      const claimed = this.markProcessing().get({ taskId: candidate.taskId, now: this.transitions.now(), instanceId: newId() })
      if (claimed) return claimed
      // A queue row without a queued task (the triggers never leave one): drop it and look further.
      this.dropQueueRow().run({ taskId: candidate.taskId })
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
