import { t } from 'elysia'
import { Doc, Int, KeyedBy, KeysQuery } from '../../http/schema'

export const JobModel = {
  create: Doc(
    { dataset_id: t.String(), job_index: Int({ minimum: 0 }) },
    'A new job: the index is unique within its dataset; the server sets job_id, status and status_changed',
  ),
  /** Top-level keys merged into the job. */
  patch: Doc(
    { status: t.Optional(t.String()), job_index: t.Optional(Int({ minimum: 0 })) },
    'Keys to replace; job_id, dataset_id and job_index cannot change',
  ),
  status: Doc({ status: t.String({ description: 'processing, failed, suspended, errors or complete' }) }),
  listQuery: t.Object(
    {
      status: t.Optional(t.String({ description: 'a job status, or several separated by |' })),
      job_index: t.Optional(t.String({ description: 'an integer' })),
      keys: KeysQuery,
    },
    { additionalProperties: true },
  ),
  statusSummary: KeyedBy(t.Array(t.String()), { description: '{status: [job_id, ...]}, in status order' }),
  statusCounts: KeyedBy(t.Integer(), { description: '{status: count}, in status order' }),
}
