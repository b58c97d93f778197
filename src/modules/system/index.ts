import { Elysia, t } from 'elysia'
import type { AppContext } from '../../context'
import { databaseAnswers, writeHealth } from '../../db'
import { fail } from '../../errors'
import { VERSION } from '../../version'

export const systemModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:system', detail: { tags: ['Service'] } })
    .use(ctx.access)
    .get('/', () => ({ service: 'iceprod-rest', version: VERSION }), {
      access: 'public',
      response: t.Object({ service: t.String(), version: t.String() }),
    })
    .get('/healthz', () => {
      if (!databaseAnswers(ctx.db)) fail(503, 'database unavailable')
      const problem = writeHealth(ctx.sqlite).problem()
      if (problem) fail(503, problem)
      return { status: 'ok' }
    }, { access: 'public', response: t.Object({ status: t.String() }) })
