import { Elysia } from 'elysia'
import { DATASET_WRITERS } from '../../auth/access'
import type { AppContext } from '../../context'
import { DatasetService } from '../datasets/service'
import type { BulkAction } from '../scheduler/bulk'
import { ActionModel } from './model'
import { ActionService, type DatasetAction } from './service'

const TASK_ACTIONS: [string, BulkAction, string][] = [
  ['bulk_suspend', { kind: 'suspend' }, 'tasks not complete → suspended'],
  ['bulk_reset', { kind: 'reset' }, 'failed and suspended tasks → waiting, failures kept'],
  ['bulk_hard_reset', { kind: 'hard_reset' }, 'any task → waiting with failures 0 (complete ones run again)'],
]
const DATASET_ACTIONS: [DatasetAction, string][] = [
  ['suspend', 'status suspended: nothing handed out or made; {"changed": 1} when the status changed'],
  ['resume', 'status processing; {"changed": 1} when the status changed'],
  ['truncate', 'status truncated: no more jobs made; {"changed": 1} when the status changed'],
  ['hard_reset', 'status processing and every task hard-reset; {"changed": tasks changed}'],
]

/** Operator actions (API.md §7.2): bulk task, job and dataset actions, each one transaction. */
export const actionsModule = (
  ctx: AppContext,
  actions = new ActionService(ctx.db, new DatasetService(ctx.db, ctx.auth, ctx.transitions, ctx.clock), ctx.scheduler.bulk),
) => {
  const app = new Elysia({ name: 'module:actions', detail: { tags: ['Operator actions'] } }).use(ctx.access)
  for (const [name, action, summary] of TASK_ACTIONS) {
    app.post(`/datasets/:dataset_id/task_actions/${name}`, async ({ params, body, auth }) => ({ changed: await actions.tasks(params.dataset_id, body, action, auth) }), {
      access: DATASET_WRITERS,
      body: ActionModel.tasks,
      response: ActionModel.changed,
      detail: { summary: `${summary}; {"changed": n}` },
    })
  }
  app
    .post('/datasets/:dataset_id/task_actions/bulk_status/:status', async ({ params, body, auth }) => ({
      changed: await actions.tasks(params.dataset_id, body, { kind: 'status', status: params.status }, auth),
    }), {
      access: DATASET_WRITERS,
      body: ActionModel.tasks,
      response: ActionModel.changed,
      detail: { summary: 'tasks not in that status already → that status; {"changed": n}' },
    })
    .patch('/datasets/:dataset_id/task_actions/bulk_requirements/:name', async ({ params, body }) => ({
      changed: await actions.requirements(params.dataset_id, params.name, body),
    }), {
      access: DATASET_WRITERS,
      body: ActionModel.requirements,
      response: ActionModel.changed,
      detail: { summary: 'requirements merged into every task of that name not complete; {"changed": n}' },
    })
  for (const [name, action, summary] of TASK_ACTIONS) {
    app.post(`/datasets/:dataset_id/job_actions/${name}`, async ({ params, body, auth }) => ({ changed: await actions.jobs(params.dataset_id, body, action, auth) }), {
      access: DATASET_WRITERS,
      body: ActionModel.jobs,
      response: ActionModel.changed,
      detail: { summary: `the jobs' tasks: ${summary}; {"changed": tasks changed}` },
    })
  }
  for (const [action, summary] of DATASET_ACTIONS) {
    app.post(`/datasets/:dataset_id/dataset_actions/${action}`, async ({ params, auth }) => ({ changed: await actions.dataset(params.dataset_id, action, auth) }), {
      access: DATASET_WRITERS,
      response: ActionModel.changed,
      detail: { summary },
    })
  }
  return app
}
