import { Elysia } from 'elysia'
import { clients } from '../../auth/roles'
import type { AppContext } from '../../context'
import { keyedCollection } from '../../http/listing'
import { created, jsonText } from '../../http/respond'
import { GridModel } from './model'
import { GridsService } from './service'

const gridAccess = { roles: clients } as const

export const gridsModule = (ctx: AppContext, grids = new GridsService(ctx.db, ctx.clock)) =>
  new Elysia({ name: 'module:grids', detail: { tags: ['Grids'] } })
    .use(ctx.access)
    .get('/grids', () => keyedCollection(grids.list(), undefined, 'grid_id'), { access: gridAccess, detail: { summary: '{grid_id: grid}' } })
    .post('/grids', async ({ body, auth }) => {
      const gridId = await grids.create(body, auth.username)
      return created(`/grids/${gridId}`, gridId)
    }, { access: gridAccess, body: GridModel.create, detail: { summary: 'register a grid; 201 {"result": grid_id}' } })
    .get('/grids/:grid_id', ({ params }) => jsonText(grids.getJson(params.grid_id)), { access: gridAccess })
    .patch('/grids/:grid_id', async ({ params, body }) => jsonText(await grids.patch(params.grid_id, body)), {
      access: gridAccess,
      body: GridModel.patch,
      detail: { summary: 'merge into the grid, refreshing last_update; returns the grid' },
    })
