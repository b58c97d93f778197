import { Elysia } from 'elysia'
import type { AppContext } from '../../context'
import { parseKeys, projectedJson } from '../../db/documents'
import { created, jsonText } from '../../http/respond'
import { Empty } from '../../http/schema'
import { JOB_STATUSES } from '../../status'
import { collectionResponse, parseStatusFilter, queryInteger } from '../tasks/listing'
import { JobModel } from './model'
import { JobService } from './service'

const services = ['admin', 'system', 'client'] as const
const datasetRead = { roles: services, dataset: 'read' } as const

export const jobsModule = (ctx: AppContext, jobs = new JobService(ctx.db)) =>
  new Elysia({ name: 'module:jobs', detail: { tags: ['Jobs'] } })
    .use(ctx.access)
    .post('/jobs', ({ body }) => {
      const jobId = jobs.create(body)
      return created(`/jobs/${jobId}`, jobId)
    }, { access: { roles: services }, body: JobModel.create })
    .get('/jobs/:job_id', ({ params }) => jsonText(jobs.get(params.job_id)), { access: { roles: [...services, 'pilot'] } })
    .patch('/jobs/:job_id', ({ params, body }) => jsonText(jobs.patch(params.job_id, body)), { access: { roles: services }, body: JobModel.patch })
    .get('/datasets/:dataset_id/jobs', ({ params, query }) => {
      const keys = parseKeys(query.keys)
      const fetch = jobs.fetcher({
        datasetId: params.dataset_id,
        statuses: parseStatusFilter(JOB_STATUSES, query.status),
        jobIndex: queryInteger('job_index', query.job_index),
      })
      return collectionResponse({ open: '{', close: '}', fetch, entry: (row) => JSON.stringify(row.id) + ':' + projectedJson(row.doc, keys, 'job_id') })
    }, { access: datasetRead, query: JobModel.listQuery })
    .get('/datasets/:dataset_id/jobs/:job_id', ({ params }) => jsonText(jobs.get(params.job_id, params.dataset_id)), { access: datasetRead })
    .put('/datasets/:dataset_id/jobs/:job_id/status', ({ params, body }) => (jobs.setStatus(params.dataset_id, params.job_id, body.status), {}), {
      access: { roles: services, dataset: 'write' },
      body: JobModel.status,
      response: Empty,
    })
    .get('/datasets/:dataset_id/job_summaries/status', ({ params }) => jobs.statusSummary(params.dataset_id), {
      access: datasetRead,
      response: JobModel.statusSummary,
    })
    .get('/datasets/:dataset_id/job_counts/status', ({ params }) => jobs.statusCounts(params.dataset_id), {
      access: datasetRead,
      response: JobModel.statusCounts,
    })
