/**
 * The live event stream's fan-out (API.md §8): every subscriber gets the
 * status changes it may see, as `text/event-stream`, in the order they are
 * published, and a comment line every KEEP_ALIVE_MS so that proxies keep
 * the connection open.
 *
 * Each subscriber's unsent text is bounded (MAX_BUFFERED_BYTES): a client
 * that reads more slowly than events come is disconnected rather than
 * buffered without bound, and the others go on receiving. Events are
 * encoded once per publish, whatever the number of subscribers.
 */

/** One status change, as sent: the history entry plus where it happened (null where it does not apply). */
export interface StatusEvent {
  dataset_id: string | null
  job_id: string | null
  task_id: string | null
  time: string
  from: string
  to: string
  by: { username: string; role: string } | 'server'
  reason?: string
}

/** Whether a subscriber may see events of `datasetId` (events without a dataset: only those who see everything). */
export type EventFilter = (datasetId: string | null) => boolean

/** Calls `tick` every `ms` until stopped; injected so that tests move time themselves. */
export type Ticker = (ms: number, tick: () => void) => { stop(): void }

export const intervalTicker: Ticker = (ms, tick) => {
  const timer = setInterval(tick, ms)
  timer.unref?.()
  return { stop: () => clearInterval(timer) }
}

export const KEEP_ALIVE_MS = 15_000
/** Unsent text a subscriber may have before it is dropped: a few thousand events. */
export const MAX_BUFFERED_BYTES = 1 << 20

const encoder = new TextEncoder()
const KEEP_ALIVE = encoder.encode(': keep-alive\n\n')
/** Sent first, so that the client (and any proxy) sees the stream open at once. */
const OPENED = encoder.encode(': connected\n\n')

interface Subscriber {
  filter: EventFilter
  controller: ReadableStreamDefaultController<Uint8Array>
  /** When its stream ends (its token expires), in milliseconds on the clock `endExpired` is given. */
  endsAtMs: number
}

export interface EventHubOptions {
  ticker?: Ticker
  maxBufferedBytes?: number
  /** Told when the first subscriber comes and when the last one goes (the source then starts or stops reading). */
  onActive?: (active: boolean) => void
}

export class EventHub {
  private readonly subscribers = new Set<Subscriber>()
  private readonly ticker: Ticker
  private readonly maxBufferedBytes: number
  private keepAlive: { stop(): void } | undefined
  /** Subscribers dropped for reading too slowly, since start. */
  dropped = 0

  constructor(private readonly options: EventHubOptions = {}) {
    this.ticker = options.ticker ?? intervalTicker
    this.maxBufferedBytes = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES
  }

  get size(): number {
    return this.subscribers.size
  }

  /** A new subscriber's stream; it ends when the client goes away (or is dropped), or at `endsAtMs`. */
  subscribe(filter: EventFilter, endsAtMs = Infinity): ReadableStream<Uint8Array> {
    let subscriber: Subscriber | undefined
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          subscriber = { filter, controller, endsAtMs }
          this.subscribers.add(subscriber)
          if (this.subscribers.size === 1) {
            this.keepAlive = this.ticker(KEEP_ALIVE_MS, () => this.sendToAll(KEEP_ALIVE))
            this.options.onActive?.(true)
          }
          controller.enqueue(OPENED)
        },
        cancel: () => {
          if (subscriber) this.remove(subscriber)
        },
      },
      // The queue counts bytes: desiredSize goes below zero by the unsent text.
      { highWaterMark: 0, size: (chunk) => chunk?.byteLength ?? 0 },
    )
  }

  /** Sends `events` (in commit order) to every subscriber that may see each. */
  publish(events: readonly StatusEvent[]): void {
    if (this.subscribers.size === 0 || events.length === 0) return
    const encoded = events.map((event) => ({ datasetId: event.dataset_id, bytes: encoder.encode(`data: ${JSON.stringify(event)}\n\n`) }))
    for (const subscriber of [...this.subscribers]) {
      for (const { datasetId, bytes } of encoded) {
        if (!subscriber.filter(datasetId)) continue
        if (!this.send(subscriber, bytes)) break
      }
    }
  }

  /** Ends the streams whose time is up at `nowMs`. */
  endExpired(nowMs: number): void {
    for (const subscriber of [...this.subscribers]) if (subscriber.endsAtMs <= nowMs) this.end(subscriber)
  }

  /** Ends every stream (the server is stopping). */
  close(): void {
    for (const subscriber of [...this.subscribers]) this.end(subscriber)
  }

  private end(subscriber: Subscriber) {
    this.remove(subscriber)
    try {
      subscriber.controller.close()
    } catch {
      // Already closed by the client.
    }
  }

  private sendToAll(bytes: Uint8Array) {
    for (const subscriber of [...this.subscribers]) this.send(subscriber, bytes)
  }

  /** Queues `bytes`; a subscriber whose unsent text would pass the bound is dropped instead. False when dropped. */
  private send(subscriber: Subscriber, bytes: Uint8Array): boolean {
    const unsent = -(subscriber.controller.desiredSize ?? 0)
    if (unsent + bytes.byteLength > this.maxBufferedBytes) {
      this.dropped++
      this.remove(subscriber)
      subscriber.controller.error(new Error('event stream reader too slow'))
      return false
    }
    subscriber.controller.enqueue(bytes)
    return true
  }

  private remove(subscriber: Subscriber) {
    if (!this.subscribers.delete(subscriber)) return
    if (this.subscribers.size === 0) {
      this.keepAlive?.stop()
      this.keepAlive = undefined
      this.options.onActive?.(false)
    }
  }
}
