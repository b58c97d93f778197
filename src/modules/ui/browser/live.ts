/**
 * Live updates: the server's event stream (`GET /events`, API.md §8) read
 * with fetch, so that the token goes in the Authorization header as on every
 * call (EventSource cannot send one). Views say what to refresh; events
 * only tell them when.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { session, url } from './api'

/** One status change, as the stream sends it. */
export interface StatusEvent {
  dataset_id: string | null
  job_id: string | null
  task_id: string | null
  from?: string
  to?: string
  time?: string
}

/** Events that arrive together cause one refresh. */
const SETTLE_MS = 300
const RETRY_MS = 3000

export type LiveMode = 'connecting' | 'live' | 'offline'

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
 * Calls `refresh` with the status changes of `datasetId` (of any readable
 * dataset when null) that arrived together, and with none after the stream
 * was lost and found again (what changed meanwhile is unknown: all of it may have).
 */
export function useLive(datasetId: string | null, refresh: (events: StatusEvent[]) => void): LiveMode {
  const [mode, setMode] = useState<LiveMode>('connecting')
  const latest = useRef(refresh)
  latest.current = refresh
  useEffect(() => {
    const stop = new AbortController()
    let pending: StatusEvent[] = []
    let settle: ReturnType<typeof setTimeout> | undefined
    const deliver = (event: StatusEvent) => {
      pending.push(event)
      settle ??= setTimeout(() => {
        settle = undefined
        const events = pending
        pending = []
        latest.current(events)
      }, SETTLE_MS)
    }
    const connect = async () => {
      for (let first = true; !stop.signal.aborted; first = false) {
        try {
          const token = session.token()
          const response = await fetch(url(datasetId ? `events?dataset_id=${encodeURIComponent(datasetId)}` : 'events'), {
            headers: token ? { authorization: `Bearer ${token}`, accept: 'text/event-stream' } : {},
            signal: stop.signal,
          })
          // Refused (a token that expired, a dataset no longer readable): trying again would not help.
          if (!response.ok || !response.body) return setMode('offline')
          setMode('live')
          if (!first) latest.current([])
          await readEvents(response, deliver, stop.signal)
        } catch {
          if (stop.signal.aborted) return
        }
        // The stream ended (a restart, a slow reader dropped): reconnect, then catch up.
        setMode('connecting')
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
      }
    }
    void connect()
    return () => {
      stop.abort()
      clearTimeout(settle)
    }
  }, [datasetId])
  return mode
}
