import { Elysia } from 'elysia'
import type { AppContext } from '../../context'

export const jobsModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:jobs', detail: { tags: ['Jobs'] } })
    .use(ctx.access)
