import { Elysia } from 'elysia'
import type { AppContext } from '../../context'

export const configModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:config', detail: { tags: ['Config'] } })
    .use(ctx.access)
