import { Elysia } from 'elysia'
import { DATASET_WRITERS } from '../../auth/access'
import { adminOnly, pilots } from '../../auth/roles'
import type { AppContext } from '../../context'
import { projectedJson } from '../../http/listing'
import { parseKeys, queryBoolean, queryChoice, queryInteger } from '../../http/query'
import { created, jsonText } from '../../http/respond'
import { LogModel } from './model'
import { logJson, LogService } from './service'

export const logsModule = (ctx: AppContext, logs = new LogService(ctx.db, ctx.clock)) =>
  new Elysia({ name: 'module:logs', detail: { tags: ['Logs'] } })
    .use(ctx.access)
    .post('/logs', async ({ body }) => {
      const logId = await logs.create(body)
      return created(`/logs/${logId}`, logId)
    }, { access: { roles: pilots }, body: LogModel.create, detail: { summary: 'store a log; 201 {"result": log_id}' } })
    .get('/logs/:log_id', ({ params }) => jsonText(logs.get(params.log_id)), {
      access: { roles: adminOnly },
      detail: { summary: 'the log, with its data' },
    })
    .post('/datasets/:dataset_id/logs', async ({ params, body }) => {
      const logId = await logs.create(body, params.dataset_id)
      return created(`/datasets/${params.dataset_id}/logs/${logId}`, logId)
    }, {
      access: DATASET_WRITERS,
      body: LogModel.createInDataset,
      detail: { summary: 'store a log of the dataset; 201 {"result": log_id}' },
    })
    .get('/datasets/:dataset_id/logs/:log_id', ({ params }) => jsonText(logs.get(params.log_id, params.dataset_id)), {
      access: { roles: adminOnly, dataset: 'read' },
      detail: { summary: 'a log of the dataset, with its data' },
    })
    .get('/datasets/:dataset_id/tasks/:task_id/logs', ({ params, query }) => {
      const num = queryInteger('num', query.num, 1)
      const order = queryChoice('order', query.order, ['desc', 'asc'])
      const group = queryBoolean('group', query.group) ?? false
      const keys = parseKeys(query.keys)
      const found = logs.taskLogs(params.dataset_id, params.task_id, { num, order, group, withData: keys === undefined || keys.includes('data') })
      return jsonText('{"logs":[' + found.map((log) => logJson(projectedJson(log.doc, keys, 'log_id'), log.data)).join(',') + ']}')
    }, {
      access: { roles: adminOnly, dataset: 'read' },
      query: LogModel.taskLogsQuery,
      detail: { summary: '{"logs": [log, ...]} of the task, newest first; 404 if none' },
    })
