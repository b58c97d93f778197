/**
 * Comparing servers' cost per request by loading them at the same time while
 * they share one core (the lookup and observability targets): the kernel
 * gives each the same CPU time, so the ratio of requests two of them answer
 * is the inverse ratio of their costs per request, measured under the same
 * machine conditions at the same moment. This VM's speed drifts by tens of
 * percent from one minute to the next; measured one after the other, the
 * same two servers differ by up to 30% from run to run.
 */
import { parseArgs } from 'node:util'
import { cpuSecondsOf } from './cpu'
import { median } from './report'
import { seed, tempDir } from './seed'
import { token, type Proc } from './servers'
import { randomPathsScript, wrkRunAsync } from './wrk'

/** One round of `sharedCoreWrk`: what each server answered while all were loaded. */
export interface SharedCoreRound {
  /** Requests each server answered, in the order the servers were given. */
  requests: number[]
  /** Each server's CPU time per request answered, in microseconds. */
  cpuMicros: number[]
  /** CPU time all servers used per second of the round: near 1 when their shared core was the limit, not the load generators. */
  serverCores: number
}

interface SharedCoreOptions {
  rounds: number
  seconds: number
  connections: number
  script?: string
  /** Where the wrk processes run: not the servers' core. */
  wrkCpus: string
}

/**
 * Loads `servers` (started with the same `cpus`) at once, each by its own
 * wrk -t1 with `connections` on `wrkCpus`, for `rounds` rounds after one
 * warm-up round.
 */
export async function sharedCoreWrk(servers: Proc[], options: SharedCoreOptions): Promise<SharedCoreRound[]> {
  const rounds: SharedCoreRound[] = []
  const load = async (server: Proc) => {
    const run = await wrkRunAsync(server.url, { ...options, cpus: options.wrkCpus })
    if (run.non2xx || run.errors) throw new Error(`${server.url}: ${run.non2xx + run.errors} non-2xx answers or socket errors`)
    return run.requests
  }
  for (let round = 0; round <= options.rounds; round++) {
    const cpuBefore = servers.map((server) => cpuSecondsOf(server.pid))
    const requests = await Promise.all(servers.map(load))
    if (round === 0) continue
    const used = servers.map((server, i) => cpuSecondsOf(server.pid) - cpuBefore[i]!)
    rounds.push({
      requests,
      cpuMicros: used.map((seconds, i) => (seconds * 1e6) / requests[i]!),
      serverCores: used.reduce((a, b) => a + b, 0) / options.seconds,
    })
  }
  return rounds
}

/**
 * `sharedCoreWrk` over `groups` fresh groups of server processes, `rounds`
 * rounds each. Within one group of processes the rounds agree closely, but
 * groups differ by a few percent from each other (from something fixed when
 * a process starts: what its JIT compiled, where its memory landed), so a
 * figure from one group is one sample of that spread; the median over
 * several groups is not. `start(group)` starts the servers on the shared
 * core; they are stopped after their rounds. Returns the rounds of each group.
 */
export async function sharedCoreGroups(start: (group: number) => Promise<Proc[]>, options: SharedCoreOptions & { groups: number }): Promise<SharedCoreRound[][]> {
  const groups: SharedCoreRound[][] = []
  for (let group = 0; group < options.groups; group++) {
    const servers = await start(group)
    try {
      groups.push(await sharedCoreWrk(servers, options))
    } finally {
      await Promise.all(servers.map((server) => server.stop()))
    }
  }
  return groups
}

/** Of each group, the median over its rounds of the requests server `a` answered over those server `b` answered. */
export const groupRatios = (groups: SharedCoreRound[][], a: number, b: number): number[] =>
  groups.map((rounds) => median(rounds.map((r) => r.requests[a]! / r.requests[b]!)))

/** The figure of a comparison: the median of the groups' median ratios of server `a` to server `b`. */
export const sharedCoreRatio = (groups: SharedCoreRound[][], a: number, b: number): number => median(groupRatios(groups, a, b))

/** The report lines: each server's rate and CPU time per request, the ratios of the pairs in `compared`, how busy the shared core was. */
export function sharedCoreLines(names: string[], groups: SharedCoreRound[][], seconds: number, compared: [number, number][]): Record<string, string | number> {
  const rounds = groups.flat()
  const lines: Record<string, string | number> = {}
  names.forEach((name, i) => (lines[`${name} req/s (median)`] = median(rounds.map((r) => r.requests[i]! / seconds))))
  names.forEach((name, i) => (lines[`${name} CPU µs/request (median)`] = median(rounds.map((r) => r.cpuMicros[i]!))))
  for (const [a, b] of compared) {
    lines[`${names[a]} / ${names[b]}, rounds`] = groups.map((g) => g.map((r) => (r.requests[a]! / r.requests[b]!).toFixed(3)).join(' ')).join(' | ')
    lines[`${names[a]} / ${names[b]}, group medians`] = groupRatios(groups, a, b).map((r) => r.toFixed(3)).join(' ')
  }
  lines['shared core busy (should be ~1)'] = median(rounds.map((r) => r.serverCores))
  return lines
}

/**
 * What the two lookup comparisons (bench/lookup.ts, bench/observability.ts)
 * share: their flags (--seconds, --rounds, --groups, --quick), a database of
 * 100k tasks (10k with --quick) and a wrk script requesting GET /tasks/<id>
 * for random ids spread over all of them, with a system token.
 */
export function lookupSetup(name: string) {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' }, groups: { type: 'string', default: '6' }, quick: { type: 'boolean', default: false } },
  })
  const { dir, cleanup } = tempDir(name)
  const db = `${dir}/iceprod.sqlite`
  const { taskIds } = seed(db, { datasets: 10, jobsPerDataset: 100, tasksPerJob: values.quick ? 10 : 100 })
  const sample = taskIds.filter((_, i) => i % 10 === 0)
  return {
    seconds: values.quick ? 2 : Number(values.seconds),
    rounds: values.quick ? 1 : Number(values.rounds),
    /** Fresh groups of server processes (see sharedCoreGroups). */
    groups: values.quick ? 2 : Number(values.groups),
    dir,
    db,
    cleanup,
    script: randomPathsScript(sample.map((id) => `/tasks/${id}`), { Authorization: `Bearer ${token(db, 'system')}` }),
  }
}
