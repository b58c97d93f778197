import { Elysia } from 'elysia'
import { services } from '../../auth/roles'
import type { AppContext } from '../../context'
import { queryInteger } from '../../http/query'
import { HistoryModel } from './model'
import type { HistoryService } from './service'

const readers = { roles: services, dataset: 'read' } as const
const options = (summary: string) => ({ access: readers, query: HistoryModel.query, response: HistoryModel.history, detail: { summary } })
const newest = (num: string | undefined) => queryInteger('num', num, 1)

/** The status histories of §7.1: a dataset's, and those of its jobs and tasks. */
export const historyModule = (ctx: AppContext, history: HistoryService) =>
  new Elysia({ name: 'module:history', detail: { tags: ['History'] } })
    .use(ctx.access)
    .get('/datasets/:dataset_id/history', ({ params, query }) => ({
      history: history.list('dataset', params.dataset_id, params.dataset_id, newest(query.num)),
    }), options("the dataset's status changes, oldest first"))
    .get('/datasets/:dataset_id/jobs/:job_id/history', ({ params, query }) => ({
      history: history.list('job', params.dataset_id, params.job_id, newest(query.num)),
    }), options("the job's status changes, oldest first"))
    .get('/datasets/:dataset_id/tasks/:task_id/history', ({ params, query }) => ({
      history: history.list('task', params.dataset_id, params.task_id, newest(query.num)),
    }), options("the task's status changes, oldest first"))
