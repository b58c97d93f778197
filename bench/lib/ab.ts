/**
 * The A/B benchmarks: the project and its baseline (or the server with the
 * scheduler on and off) run one after the other, alternating, under wrk,
 * under fetch loops in Bun or one client's requests in turn; medians are
 * compared.
 */
import { parseArgs } from 'node:util'
import { fmt, median } from './report'

/**
 * Their flags: --quick, --seconds (default `defaultSeconds`, or
 * `quickSeconds` with --quick), --rounds, --connections. Three rounds give a
 * median that one slow minute of the VM cannot move alone.
 */
export function loadRunOptions(defaultConnections: number, defaultSeconds = 10, quickSeconds = 2) {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, seconds: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string', default: String(defaultConnections) } },
  })
  const quick = values.quick
  return {
    quick,
    seconds: Number(values.seconds ?? (quick ? quickSeconds : defaultSeconds)),
    rounds: Number(values.rounds ?? (quick ? 1 : 3)),
    connections: Number(values.connections),
  }
}

/**
 * The flags of the benchmarks of one client's requests in turn (counts,
 * progress): --quick, --requests (default `defaultRequests`, or
 * `quickRequests` with --quick), --rounds (2, or 1 with --quick).
 */
export function sequentialRunOptions(defaultRequests: number, quickRequests: number) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, requests: { type: 'string' }, rounds: { type: 'string' } } })
  const quick = values.quick
  return {
    quick,
    requests: Number(values.requests ?? (quick ? quickRequests : defaultRequests)),
    rounds: Number(values.rounds ?? (quick ? 1 : 2)),
  }
}

/** One wrk run reduced to what the A/B reports compare. */
export interface RateRun {
  rate: number
  p50Ms: number
  p99Ms: number
}

/** Which server of an A/B comparison. */
export type Side = 'project' | 'baseline'

/**
 * `rounds` rounds, each running `run` once for every side in the order of
 * `sides` (each side on its own fresh state, so that one minute of the VM
 * weighs on every side alike); the runs of each side, in round order.
 */
export async function alternate<S extends string, R>(rounds: number, sides: readonly S[], run: (side: S, round: number) => Promise<R>): Promise<Record<S, R[]>> {
  const runs = Object.fromEntries(sides.map((side) => [side, [] as R[]])) as Record<S, R[]>
  for (let round = 0; round < rounds; round++) for (const side of sides) runs[side].push(await run(side, round))
  return runs
}

/** `run` (one wrk run of a round of an A/B comparison), printed with `unit`. */
export function printedWrkRound(unit: string, run: (side: Side) => Promise<RateRun>): (side: Side, round: number) => Promise<RateRun> {
  return async (side, round) => {
    const r = await run(side)
    console.log(`  wrk round ${round + 1} ${side}: ${fmt(r.rate)} ${unit}, p50 ${fmt(r.p50Ms)} ms, p99 ${fmt(r.p99Ms)} ms`)
    return r
  }
}

/** The two sides of an A/B comparison, the project first. */
export const SIDES = ['project', 'baseline'] as const

/** The report lines of alternating project/baseline wrk runs: median rates, each run, median latencies. */
export function abWrkLines(unit: string, runs: Record<Side, RateRun[]>): Record<string, string | number> {
  const lines: Record<string, string | number> = {}
  for (const side of ['project', 'baseline'] as const) lines[`${side} ${unit}, wrk (median)`] = median(runs[side].map((r) => r.rate))
  for (const side of ['project', 'baseline'] as const) lines[`${side} wrk runs`] = runs[side].map((r) => Math.round(r.rate)).join(' ')
  for (const side of ['project', 'baseline'] as const) {
    lines[`${side} wrk p50 / p99 ms (median)`] = `${fmt(median(runs[side].map((r) => r.p50Ms)))} / ${fmt(median(runs[side].map((r) => r.p99Ms)))}`
  }
  return lines
}

export interface LoopsOutcome {
  /** Requests answered, by HTTP status. */
  byStatus: Map<number, number>
  /** From the first request sent to the last answer received. */
  seconds: number
}

/**
 * `concurrency` loops, each sending one request at a time over keep-alive
 * fetch until `seconds` have passed (every answer is awaited, so nothing is
 * left in flight), handing each answer to `onAnswer`.
 */
export async function fetchLoops(options: {
  concurrency: number
  seconds: number
  request: (loop: number, n: number) => Request
  onAnswer?: (status: number, body: string) => void
}): Promise<LoopsOutcome> {
  const byStatus = new Map<number, number>()
  const started = performance.now()
  const deadline = started + options.seconds * 1000
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, loop) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const response = await fetch(options.request(loop, n))
        const body = await response.text()
        byStatus.set(response.status, (byStatus.get(response.status) ?? 0) + 1)
        options.onAnswer?.(response.status, body)
      }
    }),
  )
  return { byStatus, seconds: (performance.now() - started) / 1000 }
}

/**
 * One client's requests, one at a time (the latency of a request, not of a
 * queue of them): 20 to warm up (JIT, token cache, page cache), then
 * `requests`, or as many as `maxSeconds` allow. Each answer goes to
 * `onAnswer`; the latencies in ms, and the last answer.
 */
export async function sequentialLatencies(
  request: () => Promise<string>,
  options: { requests: number; maxSeconds: number; onAnswer?: (answer: string) => void },
): Promise<{ times: number[]; answer: string }> {
  let answer = ''
  for (let i = 0; i < 20; i++) answer = await request()
  const times: number[] = []
  const deadline = performance.now() + options.maxSeconds * 1000
  while (times.length < options.requests && performance.now() < deadline) {
    const started = performance.now()
    answer = await request()
    times.push(performance.now() - started)
    options.onAnswer?.(answer)
  }
  return { times, answer }
}
