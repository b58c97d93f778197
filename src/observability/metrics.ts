/**
 * Prometheus metrics (prom-client), one registry per app.
 *
 * Each answered request (recorded in batches, see request-batch.ts, and
 * always before a scrape) finds its label set (route template, method,
 * status), cached as one object, and bumps plain numbers on it: a bucket, the
 * sum and the count. prom-client formats them when scraped; its own
 * `observe` would build and hash a label string on every request.
 * Everything about the database is read only when scraped: task counts from
 * the trigger-maintained `task_counts` table, the pilot count, the file sizes.
 * prom-client itself is loaded at the first scrape: a server that is never
 * scraped does not pay for it in start-up time or memory.
 */
import type { Histogram, MetricType, Registry } from 'prom-client'

/** Route label of requests that matched no route (their raw path is never a label). */
export const UNMATCHED_ROUTE = 'unmatched'

/** Methods kept as labels; anything else is counted as OTHER so labels stay few. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

type HttpLabel = 'method' | 'route' | 'status'

/** Upper bounds of the request duration buckets, in seconds. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** One label set of the request metrics, cached so that a request allocates nothing for it. */
export interface RequestSeries {
  readonly labels: Record<HttpLabel, string>
  /** The same labels as JSON members, `"method":…,"route":…,"status":…`, for the request log line. */
  readonly logFields: string
  /** Observations per duration bucket (not cumulative); the last one is above every bound. */
  readonly buckets: Float64Array
  sum: number
  count: number
  /** How many of `count` the request counter has been told about. */
  counted: number
}

/** What the metrics read from the database, at each scrape. */
export interface DatabaseReadings {
  taskCounts(): { dataset_id: string; status: string; n: number }[]
  pilotCount(): number
  /** Bytes of the main file and of its write-ahead log. */
  sizes(): { main: number; wal: number }
  /** Whether writes are refused for lack of disk space now. */
  diskFull(): boolean
  /** Bytes still free on the database's filesystem; undefined when unknown (in memory). */
  freeBytes(): number | undefined
  /** The scheduler's status changes counted so far, by history codes (kind, new status, reason). */
  schedulerChanges(): { kind: number; to_status: number; reason_code: number; n: number }[]
}

/** route → method → status → series */
type SeriesIndex = Map<string, Map<string, Map<number, RequestSeries>>>

function* allSeries(index: SeriesIndex): Generator<RequestSeries> {
  for (const byMethod of index.values()) for (const byStatus of byMethod.values()) yield* byStatus.values()
}

type DurationLabel = HttpLabel | 'le'
type HistogramValues = Awaited<ReturnType<Histogram<DurationLabel>['get']>>
type Sample = HistogramValues['values'][number]

const DURATION_NAME = 'iceprod_http_request_duration_seconds'
const DURATION_HELP = 'Time from the start of handling a request (reading its body, or its route\'s checks) to its response, by route template, method and status'

type PromClient = typeof import('prom-client')

/**
 * The request duration histogram: a prom-client Histogram whose values come
 * from the series' plain counters instead of its own label-hashing storage.
 */
function requestDurations({ Histogram }: PromClient) {
  return class RequestDurations extends Histogram<DurationLabel> {
    constructor(
      private readonly index: SeriesIndex,
      registry: Registry,
    ) {
      super({
        name: DURATION_NAME,
        help: DURATION_HELP,
        labelNames: ['method', 'route', 'status'],
        buckets: DURATION_BUCKETS,
        registers: [registry],
      })
    }

    override async get(): Promise<HistogramValues> {
      const name = DURATION_NAME
      const values: Sample[] = []
      for (const series of allSeries(this.index)) {
        let cumulative = 0
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          cumulative += series.buckets[i]!
          values.push({ value: cumulative, labels: { le: DURATION_BUCKETS[i]!, ...series.labels }, metricName: `${name}_bucket` })
        }
        values.push({ value: series.count, labels: { le: '+Inf', ...series.labels }, metricName: `${name}_bucket` })
        values.push({ value: series.sum, labels: series.labels, metricName: `${name}_sum` })
        values.push({ value: series.count, labels: series.labels, metricName: `${name}_count` })
      }
      // prom-client's typings declare `type` as a numeric enum; at run time (and in its own metrics) it is this string.
      return { name, help: DURATION_HELP, type: 'histogram' as unknown as MetricType, aggregator: 'sum', collect: () => {}, values }
    }

    /** What the registry formats when it finds it; the same values as `get`. */
    getForPromString() {
      return this.get()
    }
  }
}

/** What the scheduler has done since start, as it keeps count in memory. */
export interface SchedulerReadings {
  made: { jobs: number; tasks: number }
  sweeps: { sweeps: number; last: { seconds: number; longestStepSeconds: number } | undefined }
}

/** Resource kinds, statuses and reasons as the history stores them (codes), for the changes counter's labels. */
export interface HistoryCodes {
  kinds: readonly string[]
  statuses: readonly (readonly string[])[]
  reasons: readonly string[]
}

export class Metrics {
  private readonly series: SeriesIndex = new Map()
  private registry?: Promise<Registry>
  private flushPending: () => void = () => {}

  constructor(
    private readonly database: DatabaseReadings,
    private readonly version: string,
    private readonly scheduler?: { readings: SchedulerReadings; codes: HistoryCodes },
  ) {}

  /** The registry with every metric, built at the first scrape. */
  private async buildRegistry(): Promise<Registry> {
    const promClient = await import('prom-client')
    const { Counter, Gauge, Registry } = promClient
    const { database, version } = this
    const registry = new Registry()
    const registers = [registry]
    const index = this.series
    new (requestDurations(promClient))(index, registry)
    new Counter({
      name: 'iceprod_http_requests_total',
      help: 'Requests answered, by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      registers,
      collect() {
        for (const s of allSeries(index)) {
          if (s.count > s.counted) this.inc(s.labels, s.count - s.counted)
          s.counted = s.count
        }
      },
    })

    new Gauge({
      name: 'iceprod_tasks',
      help: 'Tasks by dataset and status',
      labelNames: ['dataset_id', 'status'],
      registers,
      collect() {
        this.reset()
        for (const row of database.taskCounts()) this.set({ dataset_id: row.dataset_id, status: row.status }, row.n)
      },
    })

    new Gauge({
      name: 'iceprod_pilots',
      help: 'Pilots registered',
      registers,
      collect() {
        this.set(database.pilotCount())
      },
    })

    if (this.scheduler) this.schedulerMetrics(promClient, registry, this.scheduler)

    new Gauge({
      name: 'iceprod_database_bytes',
      help: 'Size of the database: the main file (page_count * page_size) and its write-ahead log',
      labelNames: ['file'],
      registers,
      collect() {
        const { main, wal } = database.sizes()
        this.set({ file: 'main' }, main)
        this.set({ file: 'wal' }, wal)
      },
    })

    new Gauge({
      name: 'iceprod_database_disk_full',
      help: "1 while writes are refused because the database's filesystem is full, else 0",
      registers,
      collect() {
        this.set(database.diskFull() ? 1 : 0)
      },
    })
    new Gauge({
      name: 'iceprod_database_filesystem_free_bytes',
      help: "Bytes still free for the server on the database's filesystem",
      registers,
      collect() {
        const free = database.freeBytes()
        if (free === undefined) this.reset()
        else this.set(free)
      },
    })

    new Gauge({
      name: 'iceprod_build_info',
      help: 'Always 1; the label says which version is running',
      labelNames: ['version'],
      registers,
    }).set({ version }, 1)

    new Gauge({
      name: 'process_resident_memory_bytes',
      help: 'Resident memory size in bytes',
      registers,
      collect() {
        this.set(process.memoryUsage.rss())
      },
    })
    new Counter({
      name: 'process_cpu_seconds_total',
      help: 'User and system CPU time spent, in seconds',
      registers,
      collect() {
        const { user, system } = process.cpuUsage()
        this.reset()
        this.inc((user + system) / 1e6)
      },
    })
    new Gauge({
      name: 'process_start_time_seconds',
      help: 'Start time of the process since the epoch, in seconds',
      registers,
    }).set(Math.round(Date.now() / 1000 - process.uptime()))
    return registry
  }

  /**
   * The scheduler's work: status changes from the counts a trigger keeps with
   * every server entry of the history (exact, kept across restarts), the
   * jobs and tasks materialized and the sweeps since start.
   */
  private schedulerMetrics({ Counter, Gauge }: PromClient, registry: Registry, { readings, codes }: { readings: SchedulerReadings; codes: HistoryCodes }): void {
    const registers = [registry]
    const { database } = this
    new Counter({
      name: 'iceprod_scheduler_changes_total',
      help: 'Status changes the scheduler made, by resource (dataset, job, task), new status and reason',
      labelNames: ['resource', 'status', 'reason'],
      registers,
      collect() {
        this.reset()
        for (const row of database.schedulerChanges()) {
          const labels = { resource: codes.kinds[row.kind] ?? String(row.kind), status: codes.statuses[row.kind]?.[row.to_status] ?? String(row.to_status), reason: codes.reasons[row.reason_code] ?? '' }
          this.inc(labels, row.n)
        }
      },
    })
    const made = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset()
          this.inc(read())
        },
      })
    made('iceprod_scheduler_jobs_made_total', 'Jobs the scheduler made from dataset configs since start', () => readings.made.jobs)
    made('iceprod_scheduler_tasks_made_total', 'Tasks the scheduler made from dataset configs since start', () => readings.made.tasks)
    made('iceprod_scheduler_sweeps_total', 'Sweeps for lost tasks and silent pilots since start', () => readings.sweeps.sweeps)
    new Gauge({
      name: 'iceprod_scheduler_last_sweep_seconds',
      help: 'How long the last sweep took, from its start to its last transaction',
      registers,
      collect() {
        this.set(readings.sweeps.last?.seconds ?? 0)
      },
    })
    new Gauge({
      name: 'iceprod_scheduler_last_sweep_longest_step_seconds',
      help: "The last sweep's longest transaction: the longest a request could wait behind the sweep",
      registers,
      collect() {
        this.set(readings.sweeps.last?.longestStepSeconds ?? 0)
      },
    })
  }

  /**
   * Counts one answered request and returns its label set. `route` is the
   * matched template, undefined when none matched.
   */
  record(route: string | undefined, method: string, status: number, seconds: number): RequestSeries {
    const routeLabel = route || UNMATCHED_ROUTE
    let byMethod = this.series.get(routeLabel)
    if (byMethod === undefined) this.series.set(routeLabel, (byMethod = new Map()))
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) {
      // Unknown methods are never stored under their own name, so they always come here.
      if (!KNOWN_METHODS.has(method)) method = 'OTHER'
      byStatus = byMethod.get(method)
      if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()))
    }
    let series = byStatus.get(status)
    if (series === undefined) {
      const labels = { method, route: routeLabel, status: String(status) }
      const logFields = `"method":${JSON.stringify(method)},"route":${JSON.stringify(routeLabel)},"status":${status}`
      const buckets = new Float64Array(DURATION_BUCKETS.length + 1)
      byStatus.set(status, (series = { labels, logFields, buckets, sum: 0, count: 0, counted: 0 }))
    }
    let bucket = 0
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++
    series.buckets[bucket]!++
    series.sum += seconds
    series.count++
    return series
  }

  /** `flush` records requests still waiting to be counted; it runs before every scrape. */
  beforeScrape(flush: () => void): void {
    this.flushPending = flush
  }

  /** The exposition text and its content type; runs every collector (the database reads happen here). */
  async scrape(): Promise<{ text: string; contentType: string }> {
    this.flushPending()
    const registry = await (this.registry ??= this.buildRegistry())
    return { text: await registry.metrics(), contentType: registry.contentType }
  }
}
