/**
 * Live updates: the server's event stream (`GET /events`, API.md §8) read
 * with fetch, so that the token goes in the Authorization header as on every
 * call (EventSource cannot send one). A server without the stream (404) is
 * polled instead. Views say what to refresh; events and polls only tell them
 * when.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { lacks, markMissing, session, url } from './api'

/** One status change, as the stream sends it. */
export interface StatusEvent {
  dataset_id: string | null
  job_id: string | null
  task_id: string | null
  from?: string
  to?: string
  time?: string
}

/** How often a server without the event stream is polled. */
export const POLL_MS = 5000
/** Events that arrive together cause one refresh. */
const SETTLE_MS = 300
const RETRY_MS = 3000

export type LiveMode = 'connecting' | 'live' | 'polling' | 'offline'

/** Reads `text/event-stream` from `response`, calling `onEvent` with each `data:` JSON. */
async function readEvents(response: Response, onEvent: (event: StatusEvent) => void, signal: AbortSignal) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  signal.addEventListener('abort', () => void reader.cancel().catch(() => {}))
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    let end: number
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '')
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n')
      if (!data) continue
      try {
        onEvent(JSON.parse(data) as StatusEvent)
      } catch {
        // Not an event of ours; the stream goes on.
      }
    }
  }
}

/**
 * Calls `refresh` after status changes of `datasetId` (of any readable
 * dataset when null), or every POLL_MS when the server has no event stream.
 * `onEvent` sees each event first (e.g. to refresh only the dataset it names).
 */
export function useLive(datasetId: string | null, refresh: (events: StatusEvent[]) => void): LiveMode {
  const [mode, setMode] = useState<LiveMode>('connecting')
  const latest = useRef(refresh)
  latest.current = refresh
  useEffect(() => {
    const stop = new AbortController()
    let pending: StatusEvent[] = []
    let settle: ReturnType<typeof setTimeout> | undefined
    let poll: ReturnType<typeof setInterval> | undefined
    const deliver = (event: StatusEvent) => {
      pending.push(event)
      settle ??= setTimeout(() => {
        settle = undefined
        const events = pending
        pending = []
        latest.current(events)
      }, SETTLE_MS)
    }
    const startPolling = () => {
      setMode('polling')
      poll = setInterval(() => latest.current([]), POLL_MS)
    }
    const connect = async () => {
      if (lacks('events')) return startPolling()
      while (!stop.signal.aborted) {
        try {
          const token = session.token()
          const response = await fetch(url(datasetId ? `events?dataset_id=${encodeURIComponent(datasetId)}` : 'events'), {
            headers: token ? { authorization: `Bearer ${token}`, accept: 'text/event-stream' } : {},
            signal: stop.signal,
          })
          if (response.status === 404) {
            // No event stream on this server: poll.
            markMissing('events')
            return startPolling()
          }
          if (!response.ok || !response.body) {
            setMode('offline')
            return
          }
          setMode('live')
          await readEvents(response, deliver, stop.signal)
        } catch {
          if (stop.signal.aborted) return
        }
        // The stream ended (a restart, a slow reader dropped): catch up once, then reconnect.
        setMode('connecting')
        latest.current([])
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
      }
    }
    void connect()
    return () => {
      stop.abort()
      clearTimeout(settle)
      clearInterval(poll)
    }
  }, [datasetId])
  return mode
}
