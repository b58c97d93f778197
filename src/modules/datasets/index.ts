import { Elysia } from 'elysia'
import { DATASET_WRITERS } from '../../auth/access'
import { services, servicesAndPilots, servicesAndUsers, users } from '../../auth/roles'
import type { AppContext } from '../../context'
import { keyedCollection } from '../../http/listing'
import { parseKeys, parseStatusFilter } from '../../http/query'
import { created, jsonText } from '../../http/respond'
import { Empty } from '../../http/schema'
import { DATASET_STATUSES } from '../../status'
import { DatasetModel } from './model'
import { DatasetService } from './service'


export const datasetsModule = (ctx: AppContext, datasets = new DatasetService(ctx.db, ctx.auth, ctx.transitions, ctx.clock)) =>
  new Elysia({ name: 'module:datasets', detail: { tags: ['Datasets'] } })
    .use(ctx.access)
    .get('/datasets', ({ query, auth }) => {
      const keys = parseKeys(query.keys)
      return keyedCollection(datasets.visible(auth, parseStatusFilter(DATASET_STATUSES, query.status)), keys, 'dataset_id')
    }, {
      access: { roles: servicesAndUsers },
      query: DatasetModel.listQuery,
      detail: { summary: '{dataset_id: dataset}; a user token sees the datasets its groups may read' },
    })
    .post('/datasets', async ({ body, auth }) => created(`/datasets/${await datasets.create(body, auth)}`), {
      access: { roles: users },
      body: DatasetModel.create,
      detail: { summary: 'create a dataset and its access rule; 201 {"result": "/datasets/<dataset_id>"}' },
    })
    .get('/datasets/:dataset_id', ({ params }) => jsonText(datasets.get(params.dataset_id)), {
      access: { roles: servicesAndPilots, dataset: 'read' },
      detail: { summary: 'the dataset' },
    })
    .put('/datasets/:dataset_id/status', async ({ params, body, auth }) => (await datasets.setStatus(params.dataset_id, body.status, auth), {}), {
      access: { roles: services, dataset: 'write' },
      body: DatasetModel.status,
      response: Empty,
      detail: { summary: "set the dataset's status" },
    })
    .put('/datasets/:dataset_id/description', async ({ params, body }) => (await datasets.setDescription(params.dataset_id, body.description), {}), {
      access: DATASET_WRITERS,
      body: DatasetModel.description,
      response: Empty,
      detail: { summary: "set the dataset's description" },
    })
    .put('/datasets/:dataset_id/jobs_submitted', async ({ params, body }) => (await datasets.setJobsSubmitted(params.dataset_id, body.jobs_submitted), {}), {
      access: DATASET_WRITERS,
      body: DatasetModel.jobsSubmitted,
      response: Empty,
      detail: { summary: 'set jobs_submitted, never below the jobs already created (tasks_submitted follows tasks_per_job)' },
    })
    .put('/datasets/:dataset_id/priority', async ({ params, body }) => (await datasets.setPriority(params.dataset_id, body.priority), {}), {
      access: DATASET_WRITERS,
      body: DatasetModel.priority,
      response: Empty,
      detail: { summary: "set the dataset's priority; its queued tasks follow at once" },
    })
    .get('/dataset_summaries/status', ({ auth }) => datasets.statusSummary(auth), {
      access: { roles: servicesAndUsers },
      response: DatasetModel.statusSummary,
      detail: { summary: '{status: [dataset_id, ...]} over the datasets the token may see, in status order' },
    })
