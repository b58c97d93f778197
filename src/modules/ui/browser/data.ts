/** What the views share: the statuses of API.md, loading state, numbers and times as people read them. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from './api'

// API.md §4.2, §4.4, §4.5, in their documented order.
export const DATASET_STATUSES = ['processing', 'suspended', 'errors', 'truncated', 'complete'] as const
export const JOB_STATUSES = ['processing', 'failed', 'suspended', 'errors', 'complete'] as const
export const TASK_STATUSES = ['idle', 'waiting', 'queued', 'processing', 'reset', 'suspended', 'failed', 'complete'] as const

export type Counts = Record<string, number>

export interface Loaded<T> {
  data?: T
  error?: ApiError
  loading: boolean
  /** Loads again, keeping what is shown until the new answer is there. */
  reload: () => void
}

/**
 * `load()` when `deps` change and on `reload()`; an answer that arrives after
 * a newer request started is dropped. Nothing is asked while `enabled` is false.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], enabled = true): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true })
  const generation = useRef(0)
  const run = useCallback(() => {
    if (!enabled) return
    const mine = ++generation.current
    setState((s) => ({ ...s, loading: true }))
    load().then(
      (data) => mine === generation.current && setState({ data, loading: false }),
      (error: unknown) => mine === generation.current && setState({ error: error instanceof ApiError ? error : new ApiError(0, String(error)), loading: false }),
    )
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, enabled])
  useEffect(() => {
    setState({ loading: true })
    run()
  }, [run])
  return { ...state, reload: run }
}

export const total = (counts: Counts | undefined) => Object.values(counts ?? {}).reduce((a, b) => a + b, 0)

export const formatNumber = (n: number) => n.toLocaleString('en-US')

/** API timestamps are UTC without a zone suffix. */
export function parseTime(value: unknown): Date | undefined {
  if (typeof value !== 'string' || !value) return undefined
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`)
  return Number.isNaN(date.getTime()) ? undefined : date
}

/** `3 min`, `2 h 5 min`, `4 d`: how long ago (or from now, for an ETA) `date` is from `now`. */
export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h ${m % 60} min`
  return `${Math.floor(h / 24)} d ${h % 24} h`
}

export const formatTime = (date: Date) => date.toISOString().replace('T', ' ').slice(0, 19) + ' UTC'

/** A clock that ticks every `ms`, for ages that keep up. */
export function useNow(ms = 10_000): number {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms)
    return () => clearInterval(timer)
  }, [ms])
  return now
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}
