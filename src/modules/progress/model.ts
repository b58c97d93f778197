import { t } from 'elysia'
import { KeyedBy } from '../../http/schema'

export const ProgressModel = {
  progress: t.Object({
    jobs: KeyedBy(t.Integer(), { description: '{status: count}, in status order' }),
    tasks: KeyedBy(t.Integer(), { description: '{status: count}, in status order' }),
    tasks_expected: t.Number({ description: 'jobs_submitted × tasks per job' }),
    completed_last_hour: t.Integer({ description: 'tasks that became complete in this minute and the 59 before' }),
    eta: t.Union([t.String(), t.Null()], { description: 'when the tasks still to complete will be, at the last hour\'s rate; null when that rate is 0 or nothing is left' }),
  }),
  queueDiagnostics: t.Object({
    queued: t.Integer({ description: "the dataset's queued tasks" }),
    offers_last_hour: t.Integer({ description: 'claims (of any dataset) in the last hour' }),
    unmatched: KeyedBy(t.Integer(), { description: '{requirement key: queued tasks whose requirement on that key no offer of the last hour met}, most first' }),
  }),
}
