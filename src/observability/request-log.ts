/**
 * The request log lines. A request leaves its values (id, label set,
 * duration, bearer, time) in preallocated slots; the lines are formatted and
 * handed to the log output together, when 512 are waiting or 100 ms after the
 * first of them. One tight loop over many lines costs far less than building
 * each line amid the work of its own request, and the request itself
 * allocates nothing for its line.
 */
import type { LogOutput } from './logger'
import { isoTime } from './logger'
import type { RequestSeries } from './metrics'

/** The bearer of the request's token, when the route checked one. */
export interface Bearer {
  username: string
  role: string
}

/** Lines kept before they are written. */
const BATCH_LINES = 512
/** How long a line may wait before it is written. */
const FLUSH_DELAY_MS = 100

const NO_BEARER = '"username":null,"role":null'

export class RequestLog {
  private readonly ids: string[] = new Array<string>(BATCH_LINES).fill('')
  private readonly series: (RequestSeries | undefined)[] = new Array(BATCH_LINES).fill(undefined)
  private readonly bearers: (Bearer | undefined)[] = new Array(BATCH_LINES).fill(undefined)
  private readonly durations = new Float64Array(BATCH_LINES)
  private readonly times = new Float64Array(BATCH_LINES)
  private pending = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  /**
   * `"username":…,"role":…` per bearer. Verified tokens are cached as one
   * object per token, so a busy client hits this every time.
   */
  private readonly bearerFields = new WeakMap<Bearer, string>()

  constructor(private readonly output: LogOutput) {}

  /** Keeps one request's line; `ms` is its duration, `time` when it finished (ms since the epoch). */
  add(id: string, series: RequestSeries, ms: number, bearer: Bearer | undefined, time: number): void {
    const slot = this.pending
    this.ids[slot] = id
    this.series[slot] = series
    this.bearers[slot] = bearer
    this.durations[slot] = ms
    this.times[slot] = time
    this.pending = slot + 1
    if (this.pending === BATCH_LINES) this.flush()
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS)
      // Waiting lines must not keep a finished process alive; the app flushes on close.
      this.timer.unref()
    }
  }

  /** Formats the waiting lines and hands them to the output, which writes them out. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending === 0) return
    let text = ''
    for (let i = 0; i < this.pending; i++) {
      const bearer = this.bearers[i]
      text += `{"level":"info","time":"${isoTime(this.times[i]!)}","msg":"request","request_id":"${this.ids[i]}",${this.series[i]!.logFields},"duration_ms":${Math.round(this.durations[i]! * 1000) / 1000},${bearer === undefined ? NO_BEARER : this.bearerFieldsOf(bearer)}}\n`
      // Slots hold no references once written, so nothing outlives its line.
      this.ids[i] = ''
      this.bearers[i] = undefined
      this.series[i] = undefined
    }
    this.pending = 0
    this.output.destination.write(text)
    void this.output.flush()
  }

  private bearerFieldsOf(bearer: Bearer): string {
    let fields = this.bearerFields.get(bearer)
    if (fields === undefined) {
      fields = `"username":${JSON.stringify(bearer.username)},"role":${JSON.stringify(bearer.role)}`
      this.bearerFields.set(bearer, fields)
    }
    return fields
  }
}
