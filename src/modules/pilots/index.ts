import { Elysia } from 'elysia'
import { clients, clientsAndPilots, services } from '../../auth/roles'
import type { AppContext } from '../../context'
import { keyedCollection } from '../../http/listing'
import { parseKeys } from '../../http/query'
import { created, jsonText } from '../../http/respond'
import { Empty } from '../../http/schema'
import { PilotModel } from './model'
import { PilotsService } from './service'

const manage = { roles: clients } as const
const ownPilot = { roles: clientsAndPilots } as const

export const pilotsModule = (ctx: AppContext, pilots = new PilotsService(ctx.db, ctx.transitions, ctx.clock)) =>
  new Elysia({ name: 'module:pilots', detail: { tags: ['Pilots'] } })
    .use(ctx.access)
    .get('/pilots', ({ query }) => {
      const keys = parseKeys(query.keys)
      return keyedCollection(pilots.list(query.grid_id), keys, 'pilot_id')
    }, {
      access: { roles: services },
      query: PilotModel.list,
      detail: { summary: '{pilot_id: pilot}, optionally of one grid' },
    })
    .post('/pilots', async ({ body }) => {
      const pilotId = await pilots.create(body)
      return created(`/pilots/${pilotId}`, pilotId)
    }, { access: manage, body: PilotModel.create, detail: { summary: 'register a pilot; 201 {"result": pilot_id}' } })
    .get('/pilots/:pilot_id', ({ params }) => jsonText(pilots.getJson(params.pilot_id)), { access: ownPilot })
    .patch('/pilots/:pilot_id', async ({ params, body }) => jsonText(await pilots.patch(params.pilot_id, body)), {
      access: ownPilot,
      body: PilotModel.patch,
      detail: { summary: 'merge into the pilot, refreshing last_update; returns the pilot' },
    })
    .delete('/pilots/:pilot_id', async ({ params }) => (await pilots.delete(params.pilot_id), {}), { access: ownPilot, response: Empty })
    .put('/pilots/:pilot_id/tasks', async ({ params, body }) => (await pilots.setTasks(params.pilot_id, body.tasks), {}), {
      access: ownPilot,
      body: PilotModel.setTasks,
      response: Empty,
      detail: { summary: "replace the pilot's task list, refreshing last_update" },
    })
