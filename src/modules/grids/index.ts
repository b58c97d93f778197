import { Elysia } from 'elysia'
import type { AppContext } from '../../context'

export const gridsModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:grids', detail: { tags: ['Grids'] } })
    .use(ctx.access)
