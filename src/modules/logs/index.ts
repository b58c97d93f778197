import { Elysia } from 'elysia'
import type { AppContext } from '../../context'

export const logsModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:logs', detail: { tags: ['Logs'] } })
    .use(ctx.access)
