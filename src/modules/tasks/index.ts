import { Elysia } from 'elysia'
import { services, servicesAndPilots } from '../../auth/roles'
import type { AppContext } from '../../context'
import type { StoredRow } from '../../db/pages'
import { collectionResponse, projectedJson } from '../../http/listing'
import { parseKeys, parseStatusFilter, queryInteger } from '../../http/query'
import { created, jsonText } from '../../http/respond'
import { Empty } from '../../http/schema'
import { TASK_STATUSES } from '../../status'
import { TaskModel } from './model'
import { TaskService } from './service'

const datasetRead = { roles: services, dataset: 'read' } as const
const datasetWrite = { roles: services, dataset: 'write' } as const

/** A stored task, or its projection to `keys`, as JSON text. */
const taskJson = (keys: string[] | undefined) => (row: StoredRow) => projectedJson(row.doc, keys, 'task_id')

export const tasksModule = (ctx: AppContext, tasks = new TaskService(ctx.db, ctx.transitions, ctx.clock)) =>
  new Elysia({ name: 'module:tasks', detail: { tags: ['Tasks'] } })
    .use(ctx.access)
    .post('/tasks', async ({ body }) => {
      const taskId = await tasks.create(body)
      return created(`/tasks/${taskId}`, taskId)
    }, { access: { roles: services }, body: TaskModel.create, detail: { summary: 'create a task in its job; 201 {"result": task_id}' } })
    .get('/tasks', ({ query }) => {
      const keys = parseKeys(query.keys)
      const fetch = tasks.fetcher({ statuses: parseStatusFilter(TASK_STATUSES, query.status) })
      return collectionResponse({ open: '{"tasks":[', close: ']}', fetch, entry: taskJson(keys) })
    }, { access: { roles: services }, query: TaskModel.listQuery, detail: { summary: '{"tasks": [task, ...]} over every dataset, in creation order' } })
    .get('/tasks/:task_id', ({ params }) => jsonText(tasks.get(params.task_id)), {
      access: { roles: servicesAndPilots },
      detail: { summary: 'the task' },
    })
    .patch('/tasks/:task_id', async ({ params, body, auth }) => jsonText(await tasks.patch(params.task_id, body, auth)), {
      access: { roles: servicesAndPilots },
      body: TaskModel.patch,
      detail: { summary: 'merge into the task; returns the task' },
    })
    .put('/tasks/:task_id/status', async ({ params, body, auth }) => (await tasks.setStatus(params.task_id, body.status, auth), {}), {
      access: { roles: servicesAndPilots },
      body: TaskModel.status,
      response: Empty,
      detail: { summary: "set the task's status and status_changed" },
    })
    .get('/datasets/:dataset_id/tasks', ({ params, query }) => {
      const keys = parseKeys(query.keys)
      const fetch = tasks.fetcher({
        datasetId: params.dataset_id,
        statuses: parseStatusFilter(TASK_STATUSES, query.status),
        jobId: query.job_id,
        jobIndex: queryInteger('job_index', query.job_index),
        gridId: query.grid_id,
        name: query.name,
      })
      const limit = queryInteger('limit', query.limit, 1)
      const after = query.after === undefined ? 0 : tasks.listingPosition(query.after, params.dataset_id, 'after')
      const task = taskJson(keys)
      return collectionResponse({ open: '{', close: '}', fetch, entry: (row) => JSON.stringify(row.id) + ':' + task(row), after, limit })
    }, {
      access: datasetRead,
      query: TaskModel.datasetListQuery,
      detail: { summary: '{task_id: task} of the dataset, in creation order (streamed); limit and after page it' },
    })
    .get('/datasets/:dataset_id/tasks/:task_id', ({ params }) => jsonText(tasks.get(params.task_id, params.dataset_id)), {
      access: datasetRead,
      detail: { summary: 'a task of the dataset' },
    })
    .put('/datasets/:dataset_id/tasks/:task_id/status', async ({ params, body, auth }) => (await tasks.setStatus(params.task_id, body.status, auth, params.dataset_id), {}), {
      access: datasetWrite,
      body: TaskModel.status,
      response: Empty,
      detail: { summary: "set the task's status and status_changed" },
    })
    .get('/datasets/:dataset_id/task_summaries/status', ({ params }) => tasks.statusSummary(params.dataset_id), {
      access: datasetRead,
      response: TaskModel.statusSummary,
      detail: { summary: '{status: [task_id, ...]} in status order' },
    })
    .get('/datasets/:dataset_id/task_counts/status', ({ params }) => tasks.statusCounts(params.dataset_id), {
      access: datasetRead,
      response: TaskModel.statusCounts,
      detail: { summary: '{status: count} in status order' },
    })
    .get('/datasets/:dataset_id/task_counts/name_status', ({ params }) => tasks.nameStatusCounts(params.dataset_id), {
      access: datasetRead,
      response: TaskModel.nameStatusCounts,
      detail: { summary: '{name: {status: count}}, names by lowest task_index' },
    })
    .get('/datasets/:dataset_id/task_stats', ({ params }) => tasks.taskStats(params.dataset_id), {
      access: datasetRead,
      response: TaskModel.taskStats,
      detail: { summary: 'walltime statistics per task name over its complete tasks' },
    })
