import { Elysia, t } from 'elysia'
import type { AppContext } from '../../context'
import { fail } from '../../http/errors'
import pkg from '../../../package.json'

export const VERSION: string = pkg.version

export const systemModule = (ctx: AppContext) =>
  new Elysia({ name: 'module:system', detail: { tags: ['Service'] } })
    .use(ctx.access)
    .get('/', () => ({ service: 'iceprod-rest', version: VERSION }), {
      access: 'public',
      response: t.Object({ service: t.String(), version: t.String() }),
    })
    .get('/healthz', () => {
      try {
        ctx.sqlite.query('SELECT 1').get()
      } catch {
        fail(503, 'database unavailable')
      }
      return { status: 'ok' }
    }, { access: 'public', response: t.Object({ status: t.String() }) })
