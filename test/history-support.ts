/** Reading and checking status histories (API.md §7.1) through the API. */
import { expect } from 'bun:test'
import type { TestApp } from './support'

export interface Entry {
  time: string
  from: string
  to: string
  by: { username: string; role: string } | 'server'
  reason?: string
}

type Caller = Pick<TestApp, 'call'>

/** The history of a dataset, or of one of its jobs or tasks. */
export async function historyOf(t: Caller, datasetId: string, kind?: 'jobs' | 'tasks', id?: string): Promise<Entry[]> {
  const path = kind === undefined ? `/datasets/${datasetId}/history` : `/datasets/${datasetId}/${kind}/${id}/history`
  const r = await t.call('GET', path)
  expect({ path, status: r.status }).toEqual({ path, status: 200 })
  return r.body.history
}

/** The chain rule: each entry starts where the one before ended, none stays put, the last ends at `current`. */
export function expectChain(entries: Entry[], current: string, label = ''): void {
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    expect({ label, i, moved: entry.from !== entry.to }).toEqual({ label, i, moved: true })
    if (i > 0) expect({ label, i, from: entry.from }).toEqual({ label, i, from: entries[i - 1]!.to })
    if (i > 0) expect(entry.time >= entries[i - 1]!.time).toBe(true)
  }
  if (entries.length > 0) expect({ label, last: entries.at(-1)!.to }).toEqual({ label, last: current })
}

/** The entries as `from>to` steps, for compact comparisons. */
export const steps = (entries: Entry[]) => entries.map((e) => `${e.from}>${e.to}`)
