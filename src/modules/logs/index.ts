import { Elysia } from 'elysia'
import type { AppContext } from '../../context'
import { parseKeys } from '../../db/documents'
import { created, jsonText } from '../../http/respond'
import { queryBoolean, queryChoice, queryInteger, refuseRepeated } from '../../http/listing'
import { LogModel } from './model'
import { LogService } from './service'

export const logsModule = (ctx: AppContext, logs = new LogService(ctx.db, ctx.clock)) =>
  new Elysia({ name: 'module:logs', detail: { tags: ['Logs'] } })
    .use(ctx.access)
    .post('/logs', ({ body }) => {
      const logId = logs.create(body)
      return created(`/logs/${logId}`, logId)
    }, { access: { roles: ['admin', 'pilot'] }, body: LogModel.create, detail: { summary: 'store a log; 201 {"result": log_id}' } })
    .get('/logs/:log_id', ({ params }) => jsonText(logs.get(params.log_id)), {
      access: { roles: ['admin'] },
      detail: { summary: 'the log, with its data' },
    })
    .post('/datasets/:dataset_id/logs', ({ params, body }) => {
      const logId = logs.create(body, params.dataset_id)
      return created(`/datasets/${params.dataset_id}/logs/${logId}`, logId)
    }, {
      access: { roles: ['admin'], dataset: 'write' },
      body: LogModel.createInDataset,
      detail: { summary: 'store a log of the dataset; 201 {"result": log_id}' },
    })
    .get('/datasets/:dataset_id/logs/:log_id', ({ params }) => jsonText(logs.get(params.log_id, params.dataset_id)), {
      access: { roles: ['admin'], dataset: 'read' },
      detail: { summary: 'a log of the dataset, with its data' },
    })
    .get('/datasets/:dataset_id/tasks/:task_id/logs', ({ params, query, request }) => {
      refuseRepeated(request.url, LogModel.taskLogsQuery)
      const body = logs.taskLogs(params.dataset_id, params.task_id, {
        num: queryInteger('num', query.num, 1),
        order: queryChoice('order', query.order, ['desc', 'asc']),
        group: queryBoolean('group', query.group) ?? false,
        keys: parseKeys(query.keys),
      })
      return jsonText(body)
    }, {
      access: { roles: ['admin'], dataset: 'read' },
      query: LogModel.taskLogsQuery,
      detail: { summary: '{"logs": [log, ...]} of the task, newest first; 404 if none' },
    })
