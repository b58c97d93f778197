import { Elysia } from 'elysia'
import type { AppContext } from '../../context'

export const pilotsModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:pilots', detail: { tags: ['Pilots'] } })
    .use(ctx.access)
