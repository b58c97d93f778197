import { Elysia } from 'elysia'
import { adminOnly, services } from '../../auth/roles'
import type { AppContext } from '../../context'
import { ProgressModel } from './model'
import { ProgressService } from './service'

/** Progress and queue diagnostics (API.md §7.3). */
export const progressModule = (ctx: AppContext, progress = new ProgressService(ctx.db, ctx.offers, ctx.clock)) =>
  new Elysia({ name: 'module:progress', detail: { tags: ['Progress'] } })
    .use(ctx.access)
    .get('/datasets/:dataset_id/progress', ({ params }) => progress.progress(params.dataset_id), {
      access: { roles: services, dataset: 'read' },
      response: ProgressModel.progress,
      detail: { summary: 'counts by status, tasks expected, completions of the last hour and the ETA at that rate' },
    })
    .get('/datasets/:dataset_id/queue_diagnostics', ({ params }) => progress.queueDiagnostics(params.dataset_id), {
      access: { roles: adminOnly, dataset: 'read' },
      response: ProgressModel.queueDiagnostics,
      detail: { summary: "why queued tasks wait: per requirement key, the queued tasks no offer of the last hour met" },
    })
