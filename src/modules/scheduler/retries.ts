/**
 * Retries (API.md §6.3): where a reset task goes. It fails when its failures
 * exceed its dataset's `max_failures`, is suspended in a `debug` dataset,
 * else waits to run again, and is queued at once when nothing it depends on
 * is left to complete. Each step is its own history entry, but the task is
 * written once, straight to where the steps end: every write of a task row
 * also runs the counting and queue triggers.
 */
import type { Database, Statement } from 'bun:sqlite'
import { lazy } from '../../db/lazy'
import type { ServerReason } from '../history/reasons'
import { TASK_REF_COLUMNS, type FailureReport, type TaskRef } from './refs'

/** One step of a task's way from `reset`, as the history tells it. */
export interface Step {
  from: string
  to: string
  reason: ServerReason
}

interface RetryState {
  status: string
  failures: number
  requirements: string | null
  maxFailures: unknown
  debug: unknown
  ready: number
  hasDepends: number
}

/** The requirements a task's used resources can raise, to 1.5 × what was used. */
const RAISED_BY_USE = ['memory', 'disk', 'time'] as const

const STATE = `
  SELECT t.status, coalesce(json_extract(t.doc, '$.failures'), 0) AS failures,
    CASE WHEN json_type(t.doc, '$.requirements') = 'object' THEN json_extract(t.doc, '$.requirements') END AS requirements,
    json_extract(d.doc, '$.max_failures') AS maxFailures, json_extract(d.doc, '$.debug') AS debug,
    NOT EXISTS (SELECT 1 FROM task_depends w WHERE w.task_id = t.task_id
      AND NOT EXISTS (SELECT 1 FROM tasks p WHERE p.task_id = w.depends_on AND p.status = 'complete')) AS ready,
    EXISTS (SELECT 1 FROM task_depends w WHERE w.task_id = t.task_id) AS hasDepends
  FROM tasks t LEFT JOIN datasets d ON d.dataset_id = t.dataset_id WHERE t.task_id = +$taskId`
const MOVE = `UPDATE tasks SET doc = json_set(doc, '$.status', $status, '$.status_changed', $now) WHERE task_id = $taskId`
/** With the reset action's report: its reason (null without one)… */
const MOVE_REPORTED = `UPDATE tasks SET doc = json_set(doc, '$.status', $status, '$.status_changed', $now, '$.failure_reason', $reason) WHERE task_id = $taskId`
/** …and the requirements its use raised. */
const MOVE_RAISED = `
  UPDATE tasks SET doc = json_set(doc, '$.status', $status, '$.status_changed', $now, '$.failure_reason', $reason, '$.requirements', json($requirements))
  WHERE task_id = $taskId`
/** A processing task taken back from its pilot (§6.4): one more eviction, no failure counted. */
const EVICT = `
  UPDATE tasks SET doc = json_set(doc, '$.status', $status, '$.status_changed', $now,
    '$.evictions', coalesce(json_extract(doc, '$.evictions'), 0) + 1)
  WHERE task_id = $taskId AND status = 'processing'
  RETURNING ${TASK_REF_COLUMNS}`

export class Retries {
  private readonly state: () => Statement<RetryState> = lazy(() => this.sqlite.prepare(STATE))
  private readonly move: () => Statement = lazy(() => this.sqlite.prepare(MOVE))
  private readonly moveReported: () => Statement = lazy(() => this.sqlite.prepare(MOVE_REPORTED))
  private readonly moveRaised: () => Statement = lazy(() => this.sqlite.prepare(MOVE_RAISED))
  private readonly evictQuery: () => Statement<TaskRef> = lazy(() => this.sqlite.prepare(EVICT))

  constructor(
    private readonly sqlite: Database,
    /** The failures a task may have, for datasets without `max_failures`. */
    private readonly maxFailures: number,
    private readonly now: () => string,
  ) {}

  /**
   * A task the caller has just written `reset` moves on, in one more write;
   * a reported reason becomes its `failure_reason`, used resources above its
   * memory, disk or time requirements raise them to 1.5 × the use. Returns
   * the steps taken (the last one's `to` is where the task is now).
   */
  moveOn(taskId: string, failure: FailureReport | undefined): Step[] {
    const state = this.state().get({ taskId })
    if (!state) return []
    const steps = this.stepsFrom(state)
    const status = steps.at(-1)!.to
    if (failure) {
      const raised = raisedByUse(state.requirements === null ? {} : (JSON.parse(state.requirements) as Record<string, unknown>), failure.resources)
      const values = { taskId, status, now: this.now(), reason: failure.reason ?? null }
      if (raised) this.moveRaised().run({ ...values, requirements: JSON.stringify(raised) })
      else this.moveReported().run(values)
    } else {
      this.move().run({ taskId, status, now: this.now() })
    }
    return steps
  }

  /**
   * A processing task taken back from its pilot: written in one statement
   * straight to where its reset leads, with `evictions` + 1 and its failures
   * unchanged. Returns the task and the steps after `reset`, or undefined when
   * the task is not processing.
   */
  evict(taskId: string): { task: TaskRef; steps: Step[] } | undefined {
    const state = this.state().get({ taskId })
    if (state?.status !== 'processing') return undefined
    const steps = this.stepsFrom(state)
    const task = this.evictQuery().get({ taskId, status: steps.at(-1)!.to, now: this.now() })!
    return { task, steps }
  }

  /** The steps from `reset`: to failed or suspended, or to waiting and on to queued when ready. */
  private stepsFrom(state: RetryState): Step[] {
    const limit = typeof state.maxFailures === 'number' && state.maxFailures >= 0 ? state.maxFailures : this.maxFailures
    if (state.failures > limit) return [{ from: 'reset', to: 'failed', reason: 'failures exceed max_failures' }]
    if (state.debug === 1) return [{ from: 'reset', to: 'suspended', reason: 'dataset in debug mode' }]
    const again: Step = { from: 'reset', to: 'waiting', reason: 'retry after reset' }
    if (!state.ready) return [again]
    return [again, { from: 'waiting', to: 'queued', reason: state.hasDepends ? 'dependencies complete' : 'no dependencies' }]
  }

  /** The SQL of the statements, for query-plan checks. */
  static queriesForPlanCheck(): { name: string; sql: string }[] {
    return Object.entries({ STATE, MOVE, MOVE_REPORTED, MOVE_RAISED, EVICT }).map(([name, sql]) => ({ name: `retries: ${name}`, sql }))
  }
}

/**
 * The requirements with each of memory, disk and time that `used` exceeds
 * raised to 1.5 × the use (a missing or null one counts as 0, one that is not
 * a number is left alone); undefined when none is exceeded.
 */
function raisedByUse(requirements: Record<string, unknown>, used: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!used) return undefined
  let raised: Record<string, unknown> | undefined
  for (const key of RAISED_BY_USE) {
    const use = used[key]
    const stated = requirements[key] ?? 0
    if (typeof use === 'number' && typeof stated === 'number' && use > stated) (raised ??= { ...requirements })[key] = 1.5 * use
  }
  return raised
}
