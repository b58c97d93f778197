import { Elysia } from 'elysia'
import type { AppContext } from '../../context'

export const datasetsModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:datasets', detail: { tags: ['Datasets'] } })
    .use(ctx.access)
