import { t } from 'elysia'
import { Doc } from '../../http/schema'

/** Most ids one bulk action may name. */
export const MAX_IDS = 100_000

const ids = (of: string) => t.Array(t.String(), { maxItems: MAX_IDS, description: `${of} ids of the dataset (at most 100,000)` })

export const ActionModel = {
  /** Which tasks a task action looks at: every task of the dataset matching all the filters given. */
  tasks: Doc(
    {
      task_ids: t.Optional(ids('task')),
      status: t.Optional(t.Array(t.String(), { description: 'task statuses' })),
      name: t.Optional(t.String({ description: 'a task name' })),
    },
    'Filters that combine (AND); without task_ids, every task of the dataset matching the others. No other keys',
  ),
  jobs: Doc({ job_ids: t.Optional(ids('job')) }, 'Without job_ids, every job of the dataset. No other keys'),
  /** cpu, memory, disk and time are numbers (the queue compares them as such); gpu may also be a list, other keys anything. */
  requirements: Doc(
    Object.fromEntries(['cpu', 'memory', 'disk', 'time'].map((key) => [key, t.Optional(t.Number())])),
    'Requirements merged into each task: a key here replaces that key',
  ),
  changed: t.Object({ changed: t.Integer({ description: 'how many the action changed' }) }),
}
