import { Elysia } from 'elysia'
import { DATASET_WRITERS } from '../../auth/access'
import { clientsAndPilots } from '../../auth/roles'
import type { AppContext } from '../../context'
import { jsonText } from '../../http/respond'
import { Empty } from '../../http/schema'
import { ConfigModel } from './model'
import { ConfigService } from './service'

const readers = { roles: clientsAndPilots, dataset: 'read' } as const
const getSummary = { summary: "the dataset's config, with its dataset_id; 404 if none" }
const putSummary = { summary: "replace the dataset's whole config" }

/** `/datasets/<id>/config` and its alias `/config/<id>` (used by later IceProd clients). */
export const configModule = (ctx: AppContext, configs = new ConfigService(ctx.db, ctx.scheduler)) =>
  new Elysia({ name: 'module:config', detail: { tags: ['Config'] } })
    .use(ctx.access)
    .get('/datasets/:dataset_id/config', ({ params }) => jsonText(configs.get(params.dataset_id)), { access: readers, detail: getSummary })
    .put('/datasets/:dataset_id/config', async ({ params, body }) => (await configs.put(params.dataset_id, body), {}), {
      access: DATASET_WRITERS,
      body: ConfigModel.config,
      response: Empty,
      detail: putSummary,
    })
    .get('/config/:dataset_id', ({ params }) => jsonText(configs.get(params.dataset_id)), { access: readers, detail: getSummary })
    .put('/config/:dataset_id', async ({ params, body }) => (await configs.put(params.dataset_id, body), {}), {
      access: DATASET_WRITERS,
      body: ConfigModel.config,
      response: Empty,
      detail: putSummary,
    })
