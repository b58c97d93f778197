import { t } from 'elysia'
import { Doc, Int, KeyedBy, KeysQuery } from '../../http/schema'
import { MAX_CONFIG_TASKS } from '../scheduler/task-plan'

/** The most jobs a dataset may ask for (IceProd's largest have about a million), and tasks: that many jobs of the longest config. */
export const MAX_JOBS_SUBMITTED = 10_000_000
export const MAX_TASKS_SUBMITTED = MAX_JOBS_SUBMITTED * MAX_CONFIG_TASKS
const JobsSubmitted = Int({ minimum: 0, maximum: MAX_JOBS_SUBMITTED })

/**
 * A `tasks_per_job` (an extra field, kept as sent) that `tasks_submitted`
 * and progress follow: a positive integer no larger than a config may list,
 * so that jobs_submitted × tasks_per_job stays within MAX_TASKS_SUBMITTED.
 * Any other value is kept and not followed.
 */
export const isTasksPerJob = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_CONFIG_TASKS

export const DatasetModel = {
  create: Doc(
    {
      description: t.String(),
      jobs_submitted: JobsSubmitted,
      tasks_submitted: Int({ minimum: 0, maximum: MAX_TASKS_SUBMITTED }),
      group: t.String({ description: 'an existing group: read_groups and write_groups of the new dataset' }),
      priority: t.Optional(t.Number({ description: 'default 0' })),
      debug: t.Optional(t.Boolean({ description: 'default false' })),
    },
    'A new dataset; the server sets dataset_id, dataset, status, start_date and username',
  ),
  status: Doc({ status: t.String({ description: 'processing, suspended, errors, truncated or complete' }) }),
  description: Doc({ description: t.String() }),
  jobsSubmitted: Doc({ jobs_submitted: JobsSubmitted }),
  priority: Doc({ priority: t.Number({ description: 'higher is handed out first' }) }),
  listQuery: t.Object(
    { status: t.Optional(t.String({ description: 'a dataset status, or several separated by |' })), keys: KeysQuery },
    { additionalProperties: true },
  ),
  statusSummary: KeyedBy(t.Array(t.String()), { description: '{status: [dataset_id, ...]}, in status order' }),
}
