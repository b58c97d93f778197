import { Elysia } from 'elysia'
import { adminOnly, clientsAndPilots } from '../../auth/roles'
import type { AppContext } from '../../context'
import { keyedCollection } from '../../http/listing'
import { parseKeys, queryBoolean } from '../../http/query'
import { created, jsonText } from '../../http/respond'
import { TaskStatModel } from './model'
import { TaskStatService } from './service'

const adminOrRead = { roles: adminOnly, dataset: 'read' } as const

export const taskStatsModule = (ctx: AppContext, taskStats = new TaskStatService(ctx.db, ctx.clock)) =>
  new Elysia({ name: 'module:task_stats', detail: { tags: ['Task stats'] } })
    .use(ctx.access)
    .post('/tasks/:task_id/task_stats', async ({ params, body }) => {
      const taskStatId = await taskStats.create(params.task_id, body)
      return created(`/datasets/${body.dataset_id}/tasks/${params.task_id}/task_stats/${taskStatId}`, taskStatId)
    }, {
      access: { roles: clientsAndPilots },
      body: TaskStatModel.create,
      detail: { summary: 'record statistics for the task; 201 {"result": task_stat_id}' },
    })
    .get('/datasets/:dataset_id/tasks/:task_id/task_stats', ({ params, query }) => {
      const keys = parseKeys(query.keys)
      return keyedCollection(taskStats.list(params.dataset_id, params.task_id, queryBoolean('last', query.last) ?? false), keys, 'task_stat_id')
    }, { access: adminOrRead, query: TaskStatModel.listQuery, detail: { summary: '{task_stat_id: task_stat} of the task, in creation order' } })
    .get('/datasets/:dataset_id/tasks/:task_id/task_stats/:task_stat_id', ({ params }) => jsonText(taskStats.get(params.dataset_id, params.task_id, params.task_stat_id)), {
      access: adminOrRead,
      detail: { summary: 'a task stat' },
    })
