/**
 * The offers pilots made in their claims of the last hour, for
 * queue_diagnostics (API.md §7.3), in bounded memory: one summary per minute
 * (60 at most, each overwritten an hour later), never the offers themselves.
 * A minute's summary holds how many offers came, for each key the largest
 * number offered under it, and the distinct values offered under it (in
 * canonical JSON), up to MAX_KEYS keys and MAX_VALUES values per key, each
 * key and value at most MAX_VALUE_TEXT characters long and MAX_MINUTE_TEXT in all:
 * enough to tell, for any requirement a real task states, whether some offer
 * of the hour met it.
 */
import type { Clock } from '../../clock'

/** Keys one minute's summary keeps, and distinct values per key: further ones are not kept. */
export const MAX_KEYS = 64
export const MAX_VALUES = 256
/** The longest key or value (its canonical JSON) a summary keeps, and the most text of keys and values one minute keeps: longer or further ones are not kept. */
export const MAX_VALUE_TEXT = 256
export const MAX_MINUTE_TEXT = 65_536
const MINUTES = 60

interface Minute {
  minute: number
  offers: number
  largest: Map<string, number>
  values: Map<string, Set<string>>
  /** Characters of the keys and values held. */
  text: number
}

/** What the offers of the last hour met, key by key. */
export interface OfferSummary {
  offers: number
  /** The largest number offered under each key. */
  largest: Map<string, number>
  /** The values offered under each key, in canonical JSON. */
  values: Map<string, Set<string>>
}

/** JSON text with object keys in order, so that equal values (jsonEqual) have equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>
    return `{${Object.keys(object).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export class OfferLog {
  private readonly minutes: (Minute | undefined)[] = new Array(MINUTES)

  constructor(private readonly clock: Clock) {}

  /** One claim's offer (the resources it offers). */
  record(offer: Record<string, unknown>): void {
    const minute = Math.floor(this.clock() / 60_000)
    const slot = minute % MINUTES
    let summary = this.minutes[slot]
    if (summary?.minute !== minute) this.minutes[slot] = summary = { minute, offers: 0, largest: new Map(), values: new Map(), text: 0 }
    summary.offers++
    for (const key in offer) {
      const value = offer[key]
      if (value === null || value === undefined) continue
      let values = summary.values.get(key)
      if (!values) {
        if (summary.values.size >= MAX_KEYS || key.length > MAX_VALUE_TEXT || summary.text + key.length > MAX_MINUTE_TEXT) continue
        summary.values.set(key, (values = new Set()))
        summary.text += key.length
      }
      if (typeof value === 'number') summary.largest.set(key, Math.max(value, summary.largest.get(key) ?? -Infinity))
      if (values.size >= MAX_VALUES) continue
      const text = canonicalJson(value)
      if (text.length > MAX_VALUE_TEXT || summary.text + text.length > MAX_MINUTE_TEXT || values.has(text)) continue
      values.add(text)
      summary.text += text.length
    }
  }

  /** How many characters of keys and values the summaries hold, all minutes together. */
  heldText(): number {
    let held = 0
    for (const summary of this.minutes) if (summary) held += summary.text
    return held
  }

  /** How many values the summaries hold, all minutes together: what the log's memory grows with. */
  heldValues(): number {
    let held = 0
    for (const summary of this.minutes) if (summary) for (const values of summary.values.values()) held += values.size
    return held
  }

  /** The summary of the offers of the last 60 minutes, this one included. */
  lastHour(): OfferSummary {
    const now = Math.floor(this.clock() / 60_000)
    const out: OfferSummary = { offers: 0, largest: new Map(), values: new Map() }
    for (const summary of this.minutes) {
      if (!summary || summary.minute <= now - MINUTES || summary.minute > now) continue
      out.offers += summary.offers
      for (const [key, largest] of summary.largest) out.largest.set(key, Math.max(largest, out.largest.get(key) ?? -Infinity))
      for (const [key, values] of summary.values) {
        const all = out.values.get(key) ?? new Set<string>()
        for (const value of values) all.add(value)
        out.values.set(key, all)
      }
    }
    return out
  }
}
