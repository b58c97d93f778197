import { Elysia } from 'elysia'
import type { AppContext } from '../../context'

export const taskStatsModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:task_stats', detail: { tags: ['Task stats'] } })
    .use(ctx.access)
