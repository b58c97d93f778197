import { Elysia } from 'elysia'
import { clients, pilots } from '../../auth/roles'
import type { AppContext } from '../../context'
import { fail } from '../../errors'
import { jsonText } from '../../http/respond'
import { QueueModel } from './model'
import { DEFAULT_NUM_TASKS, QueueService } from './service'

const pilotActions = { roles: pilots } as const

export const queueModule = (ctx: AppContext, queue = new QueueService(ctx.db, ctx.clock)) =>
  new Elysia({ name: 'module:queue', detail: { tags: ['Task queue'] } })
    .use(ctx.access)
    .post('/task_actions/queue', ({ body }) => ({ queued: queue.queue(body.num_tasks ?? DEFAULT_NUM_TASKS, body.dataset_prio ?? {}) }), {
      access: { roles: clients },
      body: QueueModel.queue,
      response: QueueModel.queued,
      detail: { summary: 'move ready waiting tasks (every dependency complete) to queued, heavier datasets first' },
    })
    .post('/task_actions/process', async ({ body }) => jsonText((await queue.claim(body.requirements ?? {})) ?? fail(404, 'no queued task fits the requirements')), {
      access: pilotActions,
      body: QueueModel.process,
      detail: { summary: 'claim one queued task that fits the offered resources; returns it, now processing' },
    })
    .post('/tasks/:task_id/task_actions/reset', ({ params, body }) => jsonText(queue.reset(params.task_id, body.time_used)), {
      access: pilotActions,
      body: QueueModel.timeUsed,
      detail: { summary: 'a task that is not complete becomes reset, counting a failure; returns it' },
    })
    .post('/tasks/:task_id/task_actions/complete', ({ params, body }) => jsonText(queue.complete(params.task_id, body.time_used)), {
      access: pilotActions,
      body: QueueModel.timeUsed,
      detail: { summary: 'a processing task becomes complete, recording its walltime; returns it' },
    })
