import { Elysia } from 'elysia'
import type { AppContext } from '../../context'

export const queueModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:queue', detail: { tags: ['Task queue'] } })
    .use(ctx.access)
