/**
 * Builds the application: database, tokens, access guard and every module.
 * Tests use it in-process through `app.handle(request)`.
 */
import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import { accessGuard } from './auth/access'
import { TokenService } from './auth/tokens'
import { resolveSecret, type Config } from './config'
import type { AppContext } from './context'
import { closeDatabase, openDatabase } from './db'
import { parseJsonBody } from './http/body'
import { toErrorResponse } from './http/errors'
import { authModule } from './modules/auth'
import { AuthService } from './modules/auth/service'
import { systemModule, VERSION } from './modules/system'
import { datasetsModule } from './modules/datasets'
import { configModule } from './modules/config'
import { jobsModule } from './modules/jobs'
import { tasksModule } from './modules/tasks'
import { taskStatsModule } from './modules/task_stats'
import { logsModule } from './modules/logs'
import { gridsModule } from './modules/grids'
import { pilotsModule } from './modules/pilots'
import { queueModule } from './modules/queue'

export function createApp(config: Config) {
  const secret = resolveSecret(config)
  const { db, sqlite, created } = openDatabase(config.db)
  const tokens = new TokenService(secret)
  const auth = new AuthService(db, tokens, config)
  const access = accessGuard(tokens, auth)
  const ctx: AppContext = { config, db, sqlite, tokens, access, auth }

  const app = new Elysia({ normalize: false })
    .onParse(({ request, contentType }) => parseJsonBody(request, contentType, config.maxBody))
    .onError(({ code, error }) => toErrorResponse(code, error))
    .use(
      openapi({
        path: '/openapi',
        documentation: {
          info: { title: 'iceprod-rest', version: VERSION, description: 'The IceProd REST API' },
          components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
          security: [{ bearer: [] }],
        },
      }),
    )
    .use(systemModule(ctx))
    .use(authModule(ctx))
    .use(datasetsModule(ctx))
    .use(configModule(ctx))
    .use(jobsModule(ctx))
    .use(tasksModule(ctx))
    .use(taskStatsModule(ctx))
    .use(logsModule(ctx))
    .use(gridsModule(ctx))
    .use(pilotsModule(ctx))
    .use(queueModule(ctx))

  return {
    app,
    ctx,
    auth,
    /** True when this start created the database. */
    created,
    close: () => closeDatabase(sqlite),
  }
}

export type App = ReturnType<typeof createApp>['app']
