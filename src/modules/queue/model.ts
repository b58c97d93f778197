import { t } from 'elysia'
import { Int, KeyedBy } from '../../http/schema'

/** The most seconds a task may report it ran (about 31 years): more is 400, and the walltime sums stay far from overflowing. */
export const MAX_TIME_USED = 1e9
/**
 * The most tasks one queue action queues, as many as a bulk action may name:
 * one transaction stays short. A larger `num_tasks` is taken and queues this many.
 */
export const MAX_QUEUE_TASKS = 100_000
/** Seconds a task ran, optional on reset and complete. */
const TimeUsed = t.Optional(t.Number({ minimum: 0, maximum: MAX_TIME_USED, description: 'seconds the task ran' }))
/** The claim a pilot answers for (with the scheduler on, §6.2). */
const InstanceId = t.Optional(t.String({ description: 'the instance_id the claim returned; a stale one is 409' }))

export const QueueModel = {
  queue: t.Object(
    {
      num_tasks: t.Optional(Int({ minimum: 0, description: 'most tasks to queue (default 100); one call queues at most 100,000' })),
      dataset_prio: t.Optional(KeyedBy(t.Number(), { description: '{dataset_id: weight}; unlisted datasets weigh 0' })),
    },
    { additionalProperties: true },
  ),
  queued: t.Object({ queued: t.Integer() }),
  process: t.Object(
    {
      requirements: t.Optional(t.Object({}, { additionalProperties: true, description: 'the resources the pilot offers' })),
      pilot_id: t.Optional(t.String({ description: "with the scheduler on, the claimed task joins this pilot's tasks" })),
    },
    { additionalProperties: true },
  ),
  reset: t.Object(
    {
      time_used: TimeUsed,
      reason: t.Optional(t.String({ description: 'why the task failed' })),
      resources: t.Optional(t.Object({}, { additionalProperties: true, description: 'what the task used, e.g. {"memory": 3.1}' })),
      instance_id: InstanceId,
    },
    { additionalProperties: true },
  ),
  complete: t.Object({ time_used: TimeUsed, instance_id: InstanceId }, { additionalProperties: true }),
}
