/**
 * Builds the application: database, tokens, access guard, observability
 * (request ids, request log, metrics) and every module.
 * Tests use it in-process through `app.handle(request)`.
 */
import { Elysia, type AnyElysia } from 'elysia'
import { accessGuard } from './auth/access'
import { TokenService } from './auth/tokens'
import { systemClock, type Clock } from './clock'
import { resolveSecret, type Config } from './config'
import type { AppContext } from './context'
import { closeDatabase, openDatabase } from './db'
import type { LockTimer } from './db/write-lock'
import { parseJsonBody } from './http/body'
import { toErrorResponse } from './http/errors'
import { refuseUnroutableParams } from './http/path-params'
import { JsonText } from './http/respond'
import { ClientAddresses } from './observability/client-address'
import { createLogger, stderrOutput, type LogOutput } from './observability/logger'
import { Metrics } from './observability/metrics'
import { RequestObserver, responseStatus, type Bearer, type ObservedRequest } from './observability/requests'
import { authModule } from './modules/auth'
import { TokenMinting } from './modules/auth/minting'
import { AuthService } from './modules/auth/service'
import { systemModule } from './modules/system'
import { VERSION } from './version'
import { datasetsModule } from './modules/datasets'
import { configModule } from './modules/config'
import { jobsModule } from './modules/jobs'
import { tasksModule } from './modules/tasks'
import { taskStatsModule } from './modules/task_stats'
import { logsModule } from './modules/logs'
import { gridsModule } from './modules/grids'
import { pilotsModule } from './modules/pilots'
import { queueModule } from './modules/queue'
import { metricsModule } from './modules/metrics'
import { databaseReadings } from './modules/metrics/service'
import { openapiModule } from './modules/openapi'
import { historyModule } from './modules/history'
import { actionsModule } from './modules/actions'
import { progressModule } from './modules/progress'
import { OfferLog } from './modules/progress/offers'
import { HISTORY_CODES, HistoryService } from './modules/history/service'
import { Scheduler } from './modules/scheduler/service'
import { uiModule } from './modules/ui'
import { eventsModule } from './modules/events'
import type { Ticker } from './modules/events/hub'
import { EventFeed } from './modules/events/service'

export interface AppOptions {
  /** Where log lines go; stderr (asynchronous, buffered) by default. */
  logOutput?: LogOutput
  /**
   * Request ids, request log lines and request metrics (default true). Only
   * the observability benchmark turns them off, to measure what they cost.
   */
  observe?: boolean
  /** The time for timestamps, token expiry and the login throttle; the wall clock by default. */
  clock?: Clock
  /** The timers write-lock waits are measured and made with (tests); real ones by default. */
  lockTimer?: LockTimer
  /** What times the event stream's reads of the history and its keep-alive comments (tests); intervals by default. */
  ticker?: Ticker
  /**
   * The status history is written (default true). Only the history
   * benchmark turns it off, to measure what it costs.
   */
  history?: boolean
}

/** What the observability hooks read from and keep on Elysia's per-request context. */
interface Observed extends ObservedRequest {
  /** Set by the access guard (and /metrics) when the route checked a token. */
  auth?: Bearer
  route?: string
}

export function createApp(config: Config, options: AppOptions = {}) {
  const secret = resolveSecret(config)
  const { db, sqlite } = openDatabase(config.db, { lockTimeoutMs: config.lockTimeoutMs, lockTimer: options.lockTimer })
  const clock = options.clock ?? systemClock
  const tokens = new TokenService(secret, { clockSkew: config.clockSkew, clock })
  const auth = new AuthService(db)
  const minting = new TokenMinting(auth, tokens, config, clock)
  const observe = options.observe !== false
  const access = accessGuard(tokens, auth, observe)
  const clientAddresses = new ClientAddresses()
  const logOutput = options.logOutput ?? stderrOutput()
  const log = createLogger(config.logLevel, logOutput)
  const history = new HistoryService(db, clock, options.history !== false)
  const events = new EventFeed(history, auth, tokens, { ticker: options.ticker, clock })
  const scheduler = new Scheduler(db, history, config, { warn: (message, datasetId) => log.warn(datasetId === undefined ? {} : { dataset_id: datasetId }, message), clock, lockTimer: options.lockTimer })
  const offers = new OfferLog(clock)
  const ctx: AppContext = { config, db, sqlite, tokens, access, auth, clientAddresses, clock, history, transitions: scheduler.transitions, scheduler, offers }

  const metrics = new Metrics(databaseReadings(db, config.db), VERSION, {
    readings: { made: scheduler.materializer.made, sweeps: scheduler.sweep.done },
    codes: HISTORY_CODES,
  })
  const observer = new RequestObserver(log, logOutput, metrics)

  // The hooks touch the context's members one by one and never pass the
  // context itself on: Elysia reads each hook's source to decide what every
  // request must prepare (query, headers, cookies...), and a context passed
  // whole would make every request prepare everything.
  // X-Request-Id goes into the headers a route's JsonText is turned into a
  // Response with (see http/respond.ts), or straight onto a Response the route
  // made itself: put in `set.headers` instead, it would make Elysia copy the
  // whole response.
  const base = new Elysia({ normalize: false })
  if (observe) {
    base.mapResponse((c) => {
      const o = c as unknown as Observed
      const value = c.responseValue
      const id = observer.finish(o, o.route, o.auth, c.request.method, responseStatus(value, c.set.status))
      if (id === undefined) return
      if (value instanceof JsonText) return value.toResponse(id)
      if (value instanceof Response) setHeader(value, c.set.headers, id)
      else c.set.headers['x-request-id'] = id
    })
  }
  const app = base
    .onParse((c) => {
      if (observe) (c as unknown as Observed).startedAt = performance.now()
      // A path that matches no route is 404 before its body is read, as when there is no route at all.
      refuseUnroutableParams(c.params)
      return parseJsonBody(c.request, config.maxBody)
    })
    // Never reached (the parser above answers every body); it marks bodies as JSON for the OpenAPI document.
    .on('parse', { fn: 'json' } as never)
    .onError((c) => {
      const o = c as unknown as Observed
      const response = toErrorResponse(c.code, c.error, (error) => observer.reportFault(error, observe ? observer.idOf(o) : undefined))
      const id = observe ? observer.finish(o, o.route, o.auth, c.request.method, response.status) : undefined
      if (id !== undefined) response.headers.set('x-request-id', id)
      return response
    })
    .use(systemModule(ctx))
    .use(authModule(ctx, minting))
    .use(datasetsModule(ctx))
    .use(configModule(ctx))
    .use(jobsModule(ctx))
    .use(tasksModule(ctx))
    .use(taskStatsModule(ctx))
    .use(logsModule(ctx))
    .use(gridsModule(ctx))
    .use(pilotsModule(ctx))
    .use(queueModule(ctx))
    .use(historyModule(ctx, history))
    .use(eventsModule(ctx, events))
    .use(actionsModule(ctx))
    .use(progressModule(ctx))
    .use(metricsModule(ctx, metrics, clientAddresses))
    .use(openapiModule(ctx, (): AnyElysia => app, VERSION))
    .use(uiModule(ctx))

  scheduler.start()

  return {
    app,
    ctx,
    /** Mints the first admin token of a new database (see server.ts). */
    minting,
    scheduler,
    log,
    metrics,
    /** The live event stream (its streams end on `close`, and before the server stops). */
    events,
    /** The server calls this with its way of telling a request's client address. */
    clientAddresses,
    /** Writes out log lines still waiting (request lines are handed to the output at once, the write completes later). */
    flushLogs: () => {
      observer.flush()
      return logOutput.flush()
    },
    /** Closes the database; log lines still waiting are written out. */
    close() {
      events.close()
      scheduler.stop()
      observer.flush()
      void logOutput.flush()
      closeDatabase(sqlite)
    },
  }
}

/** Puts the request id on a response, or where Elysia adds it when the response's headers are immutable. */
function setHeader(response: Response, setHeaders: Record<string, unknown>, id: string): void {
  try {
    response.headers.set('x-request-id', id)
  } catch {
    setHeaders['x-request-id'] = id
  }
}

export type App = ReturnType<typeof createApp>['app']
