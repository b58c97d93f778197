/**
 * Retries (API.md §6.3): where a reset task goes. It fails when its failures
 * exceed its dataset's `max_failures`, is suspended in a `debug` dataset,
 * else waits to run again, and is queued at once when nothing it depends on
 * is left to complete. Each step is its own history entry, but the task is
 * written once, straight to where the steps end: every write of a task row
 * also runs the counting and queue triggers.
 */
import type { ServerReason } from '../history/reasons'
import type { SchedulerQueries } from './queries'
import type { FailureReport, TaskRef } from './refs'

/** One step of a task's way from `reset`, as the history tells it. */
export interface Step {
  from: string
  to: string
  reason: ServerReason
}

type RetryState = NonNullable<ReturnType<SchedulerQueries['retryState']['get']>>

/** The requirements a task's used resources can raise, to 1.5 × what was used. */
const RAISED_BY_USE = ['memory', 'disk', 'time'] as const

export class Retries {
  constructor(
    private readonly queries: SchedulerQueries,
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
    const state = this.queries.retryState.get({ task_id: taskId })
    if (!state) return []
    const steps = this.stepsFrom(state)
    const status = steps.at(-1)!.to
    if (failure) {
      const raised = raisedByUse(state.requirements === null ? {} : (JSON.parse(state.requirements) as Record<string, unknown>), failure.resources)
      const values = { task_id: taskId, status, now: this.now(), reason: failure.reason ?? null }
      if (raised) this.queries.moveRaised.run({ ...values, requirements: JSON.stringify(raised) })
      else this.queries.moveReported.run(values)
    } else {
      this.queries.move.run({ task_id: taskId, status, now: this.now() })
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
    const state = this.queries.retryState.get({ task_id: taskId })
    if (state?.status !== 'processing') return undefined
    const steps = this.stepsFrom(state)
    const task = this.queries.evict.get({ task_id: taskId, status: steps.at(-1)!.to, now: this.now() })!
    return { task, steps }
  }

  /** The failures a task of a dataset with this `max_failures` may have. */
  failureLimit(maxFailures: unknown): number {
    return typeof maxFailures === 'number' && maxFailures >= 0 ? maxFailures : this.maxFailures
  }

  /** The steps from `reset`: to failed or suspended, or to waiting and on to queued when ready. */
  private stepsFrom(state: RetryState): Step[] {
    const limit = this.failureLimit(state.max_failures)
    if (state.failures > limit) return [{ from: 'reset', to: 'failed', reason: 'failures exceed max_failures' }]
    if (state.debug === 1) return [{ from: 'reset', to: 'suspended', reason: 'dataset in debug mode' }]
    const again: Step = { from: 'reset', to: 'waiting', reason: 'retry after reset' }
    if (!state.ready) return [again]
    return [again, { from: 'waiting', to: 'queued', reason: state.has_depends ? 'dependencies complete' : 'no dependencies' }]
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
