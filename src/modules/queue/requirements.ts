/**
 * Requirement matching (API.md 4.5.1): whether the resources a pilot offers
 * meet the requirements a task states.
 *
 * - A number is met by an offered number at least as large; a number <= 0 is
 *   met even when the offer does not mention the key.
 * - A list is met by an offered value equal to any of its items.
 * - Anything else (`os`, a site name, ...) is met by an equal offered value.
 * - A null requirement states nothing; keys only in the offer constrain nothing.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type Requirements = Record<string, Json>
/** The resources a pilot offers (the `requirements` of its claim). */
export type Offer = Record<string, unknown>

/**
 * The numeric keys the task_queue table keeps in columns, so that the claim
 * query tests them in SQL; the trigger that fills task_queue lists the same keys.
 */
export const NUMERIC_KEYS = ['cpu', 'gpu', 'memory', 'disk', 'time'] as const
export type NumericKey = (typeof NUMERIC_KEYS)[number]

/** Deep equality of JSON values (object key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const other = b as unknown[]
    return a.length === other.length && a.every((item, i) => jsonEqual(item, other[i]))
  }
  const left = a as Record<string, unknown>
  const right = b as Record<string, unknown>
  const keys = Object.keys(left)
  return keys.length === Object.keys(right).length && keys.every((key) => key in right && jsonEqual(left[key], right[key]))
}

/** Whether an offered value meets one stated (non-null) requirement. */
export function meets(required: Json, offered: unknown): boolean {
  if (typeof required === 'number') return required <= 0 || (typeof offered === 'number' && offered >= required)
  if (Array.isArray(required)) return required.some((choice) => jsonEqual(choice, offered))
  return jsonEqual(required, offered)
}

/** Whether the offer meets every requirement the task states. */
export function fits(requirements: Requirements, offer: Offer): boolean {
  for (const key in requirements) {
    const required = requirements[key] as Json
    if (required === null) continue
    if (!meets(required, Object.hasOwn(offer, key) ? offer[key] : undefined)) return false
  }
  return true
}

/**
 * For each numeric column, the largest stated value the offer meets: the
 * offered number, or 0 (requirements <= 0 need nothing) when the offer has no
 * number there. A column value v fits when `v IS NULL OR v <= bound`.
 */
export function numericBounds(offer: Offer): Record<NumericKey, number> {
  const bounds = {} as Record<NumericKey, number>
  for (const key of NUMERIC_KEYS) {
    const offered = Object.hasOwn(offer, key) ? offer[key] : undefined
    bounds[key] = typeof offered === 'number' ? Math.max(offered, 0) : 0
  }
  return bounds
}

/**
 * The first of the queue's candidate rows (already in claim order and within
 * the numeric bounds) that the offer fits: a row without other requirements
 * fits; the others are judged in code. Many queued tasks share the same
 * requirements (same dataset and task name), so each distinct requirements
 * text is judged once, remembered in `verdicts`. Stops reading at the first fit.
 */
export function firstThatFits<R extends { other_requirements: string | null }>(
  rows: Iterable<R>,
  offer: Offer,
  verdicts = new Map<string, boolean>(),
): R | undefined {
  for (const row of rows) {
    const text = row.other_requirements
    if (text === null) return row
    let fit = verdicts.get(text)
    if (fit === undefined) {
      fit = fits(JSON.parse(text) as Requirements, offer)
      verdicts.set(text, fit)
    }
    if (fit) return row
  }
  return undefined
}
