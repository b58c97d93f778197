/**
 * The live event stream's source (API.md §8): while anyone listens, the
 * status history is read every POLL_MS for the entries committed since the
 * last read, in the order they were written (one writer at a time, so commit
 * order), and handed to the hub. Only committed entries can be read, so an
 * event is never sent for a change that was rolled back. Nobody listening,
 * nothing is read.
 */
import { hasDatasetAccess, type DatasetRules } from '../../auth/access'
import type { Auth, TokenService } from '../../auth/tokens'
import type { Clock } from '../../clock'
import { seesAllDatasets } from '../../auth/roles'
import { fail } from '../../errors'
import type { HistoryService } from '../history/service'
import { EventHub, intervalTicker, type EventFilter, type Ticker } from './hub'

/** How often the history is read while anyone listens: an event is sent within this of its commit. */
export const POLL_MS = 20
/** Entries read at once; more are read at once after them. */
const BATCH = 1000

export interface EventFeedOptions {
  /** Drives both the reads and the keep-alive comments; tests move it themselves. */
  ticker?: Ticker
  /** The app's clock, which the tokens' expiry is read on. */
  clock?: Clock
  maxBufferedBytes?: number
}

export class EventFeed {
  readonly hub: EventHub
  private readonly ticker: Ticker
  private readonly clock: Clock
  private reading: { stop(): void } | undefined
  private after = 0
  /** Access rules read for the events being sent now, each dataset's once, whatever the number of subscribers. */
  private rules = new Map<string, ReturnType<DatasetRules['rule']>>()

  constructor(
    private readonly history: HistoryService,
    private readonly datasets: DatasetRules,
    private readonly tokens: Pick<TokenService, 'endsAtMs'>,
    options: EventFeedOptions = {},
  ) {
    this.ticker = options.ticker ?? intervalTicker
    this.clock = options.clock ?? Date.now
    this.hub = new EventHub({ ticker: this.ticker, maxBufferedBytes: options.maxBufferedBytes, onActive: (active) => this.listen(active) })
  }

  /**
   * A stream of the events `auth` may see, of `datasetId` alone when given:
   * 404 for a dataset that does not exist (to roles that see all), 403 for one
   * the token may not read. It ends when the token expires.
   */
  subscribe(auth: Auth, datasetId?: string): ReadableStream<Uint8Array> {
    const seesAll = seesAllDatasets.includes(auth.role)
    if (datasetId !== undefined) {
      if (seesAll && !this.datasets.exists(datasetId)) fail(404, `dataset ${datasetId} not found`)
      if (!seesAll && !hasDatasetAccess(auth.groups, this.datasets.rule(datasetId), 'read')) fail(403, 'not allowed')
    }
    // Access is checked again for each event: a rule changed meanwhile applies from the next event on.
    const readable = (id: string | null) => seesAll || (id !== null && hasDatasetAccess(auth.groups, this.ruleOf(id), 'read'))
    const filter: EventFilter = datasetId === undefined ? readable : (id) => id === datasetId && readable(id)
    return this.hub.subscribe(filter, this.tokens.endsAtMs(auth))
  }

  /** Reads what was committed since the last read and sends it (also called by tests instead of waiting for the timer). */
  readNow(): void {
    // A stream whose token has expired hears nothing more.
    this.hub.endExpired(this.clock())
    for (;;) {
      const entries = this.history.since(this.after, BATCH)
      if (entries.length === 0) return
      this.after = entries[entries.length - 1]!.entry
      this.rules.clear()
      this.hub.publish(entries.map((e) => e.event))
      if (entries.length < BATCH) return
    }
  }

  close(): void {
    this.hub.close()
  }

  private listen(active: boolean) {
    if (!active) {
      this.reading?.stop()
      this.reading = undefined
      return
    }
    // A new listener hears what is committed from now on.
    this.after = this.history.lastEntry()
    this.reading = this.ticker(POLL_MS, () => this.readNow())
  }

  private ruleOf(datasetId: string) {
    if (!this.rules.has(datasetId)) this.rules.set(datasetId, this.datasets.rule(datasetId))
    return this.rules.get(datasetId)
  }
}
