import { Elysia } from 'elysia'
import { clients, pilots } from '../../auth/roles'
import type { AppContext } from '../../context'
import { fail } from '../../errors'
import { jsonText } from '../../http/respond'
import { ClaimService } from './claims'
import { LifecycleService } from './lifecycle'
import { QueueModel } from './model'
import { DEFAULT_NUM_TASKS, QueueingService } from './queueing'

const pilotActions = { roles: pilots } as const

export const queueModule = (
  ctx: AppContext,
  queueing = new QueueingService(ctx.db, ctx.scheduler.bulk),
  claims = new ClaimService(ctx.db, ctx.transitions, ctx.clock, ctx.offers),
  lifecycle = new LifecycleService(ctx.db, ctx.transitions, ctx.clock),
) =>
  new Elysia({ name: 'module:queue', detail: { tags: ['Task queue'] } })
    .use(ctx.access)
    .post('/task_actions/queue', async ({ body, auth }) => ({ queued: await queueing.queue(body.num_tasks ?? DEFAULT_NUM_TASKS, body.dataset_prio ?? {}, auth) }), {
      access: { roles: clients },
      body: QueueModel.queue,
      response: QueueModel.queued,
      detail: { summary: 'move ready waiting tasks (every dependency complete) to queued, heavier datasets first' },
    })
    .post('/task_actions/process', async ({ body, auth }) => jsonText((await claims.claim(body.requirements ?? {}, auth, body.pilot_id)) ?? fail(404, 'no queued task fits the requirements')), {
      access: pilotActions,
      body: QueueModel.process,
      detail: { summary: 'claim one queued task that fits the offered resources; returns it, now processing' },
    })
    .post('/tasks/:task_id/task_actions/reset', async ({ params, body, auth }) => jsonText(
        await lifecycle.reset(params.task_id, { timeUsed: body.time_used, reason: body.reason, resources: body.resources, instanceId: body.instance_id }, auth),
      ), {
      access: pilotActions,
      body: QueueModel.reset,
      detail: { summary: 'a task that is not complete becomes reset, counting a failure; returns it' },
    })
    .post('/tasks/:task_id/task_actions/complete', async ({ params, body, auth }) => jsonText(await lifecycle.complete(params.task_id, body.time_used, auth, body.instance_id)), {
      access: pilotActions,
      body: QueueModel.complete,
      detail: { summary: 'a processing task becomes complete, recording its walltime; returns it' },
    })
