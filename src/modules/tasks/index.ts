import { Elysia } from 'elysia'
import type { AppContext } from '../../context'

export const tasksModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:tasks', detail: { tags: ['Tasks'] } })
    .use(ctx.access)
