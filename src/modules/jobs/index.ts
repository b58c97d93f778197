import { Elysia } from 'elysia'
import { services, servicesAndPilots } from '../../auth/roles'
import type { AppContext } from '../../context'
import { collectionResponse, projectedJson } from '../../http/listing'
import { parseKeys, parseStatusFilter, queryInteger } from '../../http/query'
import { created, jsonText } from '../../http/respond'
import { Empty } from '../../http/schema'
import { JOB_STATUSES } from '../../status'
import { JobModel } from './model'
import { JobService } from './service'

const datasetRead = { roles: services, dataset: 'read' } as const

export const jobsModule = (ctx: AppContext, jobs = new JobService(ctx.db, ctx.transitions, ctx.clock)) =>
  new Elysia({ name: 'module:jobs', detail: { tags: ['Jobs'] } })
    .use(ctx.access)
    .post('/jobs', async ({ body }) => {
      const jobId = await jobs.create(body)
      return created(`/jobs/${jobId}`, jobId)
    }, { access: { roles: services }, body: JobModel.create, detail: { summary: 'create a job; 201 {"result": job_id}' } })
    .get('/jobs/:job_id', ({ params }) => jsonText(jobs.get(params.job_id)), {
      access: { roles: servicesAndPilots },
      detail: { summary: 'the job' },
    })
    .patch('/jobs/:job_id', async ({ params, body, auth }) => jsonText(await jobs.patch(params.job_id, body, auth)), {
      access: { roles: services },
      body: JobModel.patch,
      detail: { summary: 'merge into the job; returns the job' },
    })
    .get('/datasets/:dataset_id/jobs', ({ params, query }) => {
      const keys = parseKeys(query.keys)
      const fetch = jobs.fetcher({
        datasetId: params.dataset_id,
        statuses: parseStatusFilter(JOB_STATUSES, query.status),
        jobIndex: queryInteger('job_index', query.job_index),
      })
      return collectionResponse({ open: '{', close: '}', fetch, entry: (row) => JSON.stringify(row.id) + ':' + projectedJson(row.doc, keys, 'job_id') })
    }, { access: datasetRead, query: JobModel.listQuery, detail: { summary: "{job_id: job} of the dataset, in creation order" } })
    .get('/datasets/:dataset_id/jobs/:job_id', ({ params }) => jsonText(jobs.get(params.job_id, params.dataset_id)), {
      access: datasetRead,
      detail: { summary: 'a job of the dataset' },
    })
    .put('/datasets/:dataset_id/jobs/:job_id/status', async ({ params, body, auth }) => (await jobs.setStatus(params.dataset_id, params.job_id, body.status, auth), {}), {
      access: { roles: services, dataset: 'write' },
      body: JobModel.status,
      response: Empty,
      detail: { summary: "set the job's status and status_changed" },
    })
    .get('/datasets/:dataset_id/job_summaries/status', ({ params }) => jobs.statusSummary(params.dataset_id), {
      access: datasetRead,
      response: JobModel.statusSummary,
      detail: { summary: '{status: [job_id, ...]} in status order' },
    })
    .get('/datasets/:dataset_id/job_counts/status', ({ params }) => jobs.statusCounts(params.dataset_id), {
      access: datasetRead,
      response: JobModel.statusCounts,
      detail: { summary: '{status: count} in status order' },
    })
