import { t } from 'elysia'
import { Doc, Int, KeyedBy, KeysQuery } from '../../http/schema'
import { MAX_DEPENDS } from '../scheduler/task-plan'

const taskId = t.String({ description: 'a task id' })
// Digits grouped by hand: toLocaleString would load ICU's locale data at every start.
const depends = t.Array(taskId, { maxItems: MAX_DEPENDS, description: `task ids this task waits for (at most ${String(MAX_DEPENDS).replace(/\B(?=(\d{3})+$)/g, ',')})` })
const requirements = t.Object({}, { additionalProperties: true, description: 'resources the task needs, e.g. {"cpu": 1, "gpu": 1, "os": "RHEL_8"}' })
const statusFilter = t.Optional(t.String({ description: 'a task status, or several separated by |' }))

/** A task stat computed from sums: null when a sum passes the largest number (walltimes a client PATCHed in). */
const Sum = t.Union([t.Number(), t.Null()], { description: 'null past the largest number' })

export const TaskModel = {
  create: Doc(
    {
      dataset_id: t.String(),
      job_id: t.String(),
      task_index: Int({ minimum: 0 }),
      name: t.String(),
      depends,
      requirements,
    },
    'A new task; the server sets task_id, job_index, status, status_changed, the counters and, with the scheduler on, instance_id',
  ),
  /** Top-level keys merged into the task; the known ones keep their types. */
  patch: Doc(
    {
      status: t.Optional(t.String()),
      task_index: t.Optional(Int({ minimum: 0 })),
      name: t.Optional(t.String()),
      depends: t.Optional(depends),
      requirements: t.Optional(requirements),
      failures: t.Optional(Int({ minimum: 0 })),
      evictions: t.Optional(Int({ minimum: 0 })),
      walltime: t.Optional(t.Number()),
      walltime_err: t.Optional(t.Number()),
      walltime_err_n: t.Optional(Int({ minimum: 0 })),
    },
    'Keys to replace; task_id, dataset_id, job_id and job_index cannot change',
  ),
  status: Doc({ status: t.String({ description: 'idle, waiting, queued, processing, reset, suspended, failed or complete' }) }),
  listQuery: t.Object({ status: statusFilter, keys: KeysQuery }, { additionalProperties: true }),
  datasetListQuery: t.Object(
    {
      status: statusFilter,
      job_id: t.Optional(t.String()),
      job_index: t.Optional(t.String({ description: 'an integer' })),
      grid_id: t.Optional(t.String()),
      name: t.Optional(t.String({ description: 'a task name' })),
      limit: t.Optional(t.String({ description: 'at most this many tasks (an integer ≥ 1)' })),
      after: t.Optional(t.String({ description: 'the id of a task of the dataset: only the tasks created after it (the next page after the last task of a page)' })),
      keys: KeysQuery,
    },
    { additionalProperties: true },
  ),
  statusCounts: KeyedBy(t.Integer(), { description: '{status: count}, in status order' }),
  statusSummary: KeyedBy(t.Array(t.String()), { description: '{status: [task_id, ...]}, in status order' }),
  // Inner keys are statuses (no line breaks); Elysia cannot compile KeyedBy nested in KeyedBy.
  nameStatusCounts: KeyedBy(t.Record(t.String(), t.Integer()), { description: '{name: {status: count}}, names by lowest task_index' }),
  taskStats: KeyedBy(
    t.Object({
      count: t.Integer(),
      gpu: Sum,
      total_hrs: Sum,
      total_err_hrs: Sum,
      avg_hrs: Sum,
      stddev_hrs: t.Union([t.Number(), t.Null()], { description: 'null for a single task, or past the largest number' }),
      min_hrs: t.Number(),
      max_hrs: t.Number(),
      efficiency: Sum,
    }),
    { description: 'per task name, over its complete tasks' },
  ),
}
