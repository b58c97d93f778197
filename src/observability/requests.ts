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
 * The request line is the one log line written per request, so it is built
 * here from pre-encoded pieces and written to the log's destination directly,
 * gated by the logger's level and shaped like every other line. pino's generic
 * serializer would cost more than the rest of the bookkeeping put together.
 */
import { ElysiaCustomStatusResponse, StatusMap } from 'elysia'
import { JsonText } from '../http/respond'
import type { Logger, LogOutput } from './logger'
import { isoNow } from './logger'
import type { Metrics } from './metrics'

/** What the hooks keep on Elysia's per-request context. */
export interface ObservedRequest {
  /** performance.now() when handling started; unset for a request that matched no route. */
  startedAt?: number
  /** Made on first use (by `finish`, or earlier for a fault's log line). */
  requestId?: string
  /** Set by `finish`, so that a second hook does not record the request again. */
  recorded?: true
}

/** The bearer of the request's token, when the route checked one. */
export interface Bearer {
  username: string
  role: string
}

const NO_BEARER = '"username":null,"role":null'

export class RequestObserver {
  /** Distinguishes this process's ids from another's; the counter makes them unique within it. */
  private readonly prefix = Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, '0') + '-'
  private sequence = 0
  /**
   * `"username":…,"role":…` per bearer. Verified tokens are cached as one
   * object per token, so a busy client hits this every time.
   */
  private readonly bearerFields = new WeakMap<Bearer, string>()

  /** The level is fixed for the process, so this is asked once (pino's check is not free). */
  private readonly logRequests: boolean

  constructor(
    private readonly log: Logger,
    private readonly output: LogOutput,
    private readonly metrics: Metrics,
  ) {
    this.logRequests = log.isLevelEnabled('info')
  }

  /** The request's id, made on first use. */
  idOf(observed: ObservedRequest): string {
    return (observed.requestId ??= this.prefix + (++this.sequence).toString(36))
  }

  /**
   * Records a finished request and returns its id, or undefined when it was
   * recorded already. `route` is the matched template (undefined when none
   * matched), `bearer` the token's.
   */
  finish(observed: ObservedRequest, route: string | undefined, bearer: Bearer | undefined, method: string, status: number): string | undefined {
    if (observed.recorded) return undefined
    observed.recorded = true
    const id = this.idOf(observed)
    const ms = observed.startedAt === undefined ? 0 : performance.now() - observed.startedAt
    const series = this.metrics.record(route, method, status, ms / 1000)
    if (this.logRequests) {
      this.output.destination.write(
        `{"level":"info","time":"${isoNow()}","msg":"request","request_id":"${id}",${series.logFields},"duration_ms":${Math.round(ms * 1000) / 1000},${bearer === undefined ? NO_BEARER : this.bearerFieldsOf(bearer)}}\n`,
      )
    }
    return id
  }

  private bearerFieldsOf(bearer: Bearer): string {
    let fields = this.bearerFields.get(bearer)
    if (fields === undefined) {
      fields = `"username":${JSON.stringify(bearer.username)},"role":${JSON.stringify(bearer.role)}`
      this.bearerFields.set(bearer, fields)
    }
    return fields
  }

  /** Route faults go to the same log, with the request id when known. */
  reportFault(error: unknown, requestId: string | undefined): void {
    this.log.error({ request_id: requestId ?? null, err: error }, 'internal error')
  }
}

/** The status a response will have, from what the handler returned and what it set. */
export function responseStatus(value: unknown, setStatus: number | string | undefined): number {
  if (value instanceof Response || value instanceof JsonText) return value.status
  if (value instanceof ElysiaCustomStatusResponse) return value.code as number
  if (typeof setStatus === 'number') return setStatus
  return (setStatus !== undefined && (StatusMap as Record<string, number>)[setStatus]) || 200
}
