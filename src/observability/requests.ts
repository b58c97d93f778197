/**
 * Per-request bookkeeping: a request id (returned as X-Request-Id), one JSON
 * log line and one metrics observation per request.
 *
 * A request's start is marked when its handling starts: by the body parser
 * before it reads a body, or else by the route's access guard, which every
 * route runs first (auth/access.ts). An `onRequest` hook would mark it a
 * little earlier but makes every request materialise its URL and context up
 * front, which costs more than the rest of the bookkeeping. A request that
 * matched no route is answered at once; its duration is counted as zero.
 *
 * The hooks call `finish` when the response is known. Elysia runs
 * `mapResponse` hooks for every request that matched a route (also after
 * `onError`), and only `onError` for a request that matched none, so both call
 * `finish` and the first call wins.
 *
 * The route label is Elysia's `route` on the context: the matched template
 * (`/tasks/:task_id`), set before parsing, so parse and validation errors have
 * it too. It is undefined when no route matched (the 404 path), which is
 * labelled UNMATCHED_ROUTE: a raw path never becomes a label or a log field.
 *
 * The request line is the one log line written per request, so it does not
 * go through pino: the request's values are left with the batch
 * (request-batch.ts), which counts them in the metrics and formats the lines
 * of many requests at once, gated by the logger's level and shaped like every
 * other line.
 */
import { ElysiaCustomStatusResponse, StatusMap } from 'elysia'
import { JsonText } from '../http/respond'
import type { Logger, LogOutput } from './logger'
import type { Metrics } from './metrics'
import { RequestBatch, type Bearer } from './request-batch'

export type { Bearer }

/**
 * What the hooks keep on Elysia's per-request context. Each property added to
 * the context costs the request a little, so the usual request adds only
 * `startedAt`, and reuses it to mark itself recorded.
 */
export interface ObservedRequest {
  /** performance.now() when handling started, RECORDED once recorded; unset for a request that matched no route. */
  startedAt?: number
  /** Set only when the id is needed before the request is recorded (for a fault's log line). */
  requestId?: string
}

/** `startedAt` of a request already recorded (performance.now() is never negative). */
const RECORDED = -1

export class RequestObserver {
  private readonly firstId = Math.floor(Math.random() * 2 ** 50)
  private sequence = 0
  private readonly batch: RequestBatch

  constructor(
    private readonly log: Logger,
    output: LogOutput,
    metrics: Metrics,
  ) {
    // The level is fixed for the process, so this is asked once.
    this.batch = new RequestBatch(metrics, log.isLevelEnabled('info') ? output : undefined)
    // A scrape counts every request answered before it.
    metrics.beforeScrape(() => this.batch.flush())
  }

  /** The request's id, before it is recorded. */
  idOf(observed: ObservedRequest): string {
    return (observed.requestId ??= this.newId())
  }

  /**
   * A request id is a number in base 36, counting up from a random start
   * below 2^50 drawn per process: ids of different processes (or restarts)
   * do not repeat in practice. One number makes one flat string; a prefix
   * joined to a counter would make a rope that every use must flatten.
   */
  private newId(): string {
    return (this.firstId + ++this.sequence).toString(36)
  }

  /**
   * Records a finished request and returns its id, or undefined when it was
   * recorded already. `route` is the matched template (undefined when none
   * matched), `bearer` the token's.
   */
  finish(observed: ObservedRequest, route: string | undefined, bearer: Bearer | undefined, method: string, status: number): string | undefined {
    const startedAt = observed.startedAt
    if (startedAt === RECORDED) return undefined
    observed.startedAt = RECORDED
    const id = observed.requestId ?? this.newId()
    const end = performance.now()
    this.batch.add(id, route, method, status, startedAt === undefined ? 0 : end - startedAt, bearer, end)
    return id
  }

  /** Records the requests still waiting: metrics and log lines. */
  flush(): void {
    this.batch.flush()
  }

  /** Route faults go to the same log, with the request id when known. */
  reportFault(error: unknown, requestId: string | undefined): void {
    // Earlier requests' lines first, so that the log stays in order.
    this.flush()
    this.log.error({ request_id: requestId ?? null, err: error }, 'internal error')
  }
}

/** The status a response will have, from what the handler returned and what it set. */
export function responseStatus(value: unknown, setStatus: number | string | undefined): number {
  if (value instanceof JsonText || value instanceof Response) return value.status
  if (value instanceof ElysiaCustomStatusResponse) return value.code as number
  if (typeof setStatus === 'number') return setStatus
  return (setStatus !== undefined && (StatusMap as Record<string, number>)[setStatus]) || 200
}
