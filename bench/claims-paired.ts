/**
 * The claims of two executables compared at the same moment (a change to the
 * claim path against the executable before it): A, B, and a copy of B (the
 * control: what the method gives for no difference) run at once, pinned to
 * the same core, each on a fresh copy of the 1M-task database with 100k
 * queued (bench/shapes.ts), each loaded by its own wrk -t1 -c32
 * POST /task_actions/process on the other core. The kernel gives the three
 * equal CPU time, so the ratio of the claims two of them answer is their
 * throughput ratio (see lib/shared-core.ts). Repeated with --groups fresh
 * groups of processes, the start order rotated; each figure is the median
 * of the groups' median ratios.
 *
 * The executables must read the database this checkout seeds: run it from
 * a checkout whose schema both have.
 * Usage: bun bench/claims-paired.ts --a PATH --b PATH [--groups N] [--rounds N] [--seconds N]
 */
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cpuShare, printCpuShare } from './lib/cpu'
import { report } from './lib/report'
import { copyDatabase, removeDatabase, tempDir } from './lib/seed'
import { spawnServer, stopTracked, token, tracked, type Proc } from './lib/servers'
import { groupRatios, sharedCoreGroups, sharedCoreLines, sharedCoreRatio } from './lib/shared-core'
import { requireWrk } from './lib/wrk'
import { oneBigDataset } from './shapes'

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    groups: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '4' },
  },
})
if (!values.a || !values.b) throw new Error('usage: bun bench/claims-paired.ts --a PATH --b PATH [--groups N] [--rounds N] [--seconds N]')

requireWrk()
const NAMES = ['A', 'B', 'B copy'] as const
const [A, B, B_COPY] = [0, 1, 2]
const { dir, cleanup } = tempDir('claims-paired')
// The control is another file with the same bytes, as A and B are different files.
const bCopy = join(dir, 'b-copy')
copyFileSync(values.b, bCopy)
const binaries = [values.a, values.b, bCopy]
const seeded = oneBigDataset(false)
// The path is the script's: the shared-core load requests each server's root URL.
const script = `wrk.method = "POST"
wrk.path = "/task_actions/process"
wrk.body = '${JSON.stringify({ requirements: { cpu: 4, memory: 8, disk: 100 } })}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${token(seeded.path, 'pilot')}"
`
const seconds = Number(values.seconds)
const databases: string[] = []

const cpu = cpuShare()
try {
  const measured = await sharedCoreGroups(
    async (group) => {
      for (const db of databases.splice(0)) removeDatabase(db)
      const servers: Proc[] = []
      // Rotated, so that no executable always starts first.
      for (let i = 0; i < NAMES.length; i++) {
        const which = (i + group) % NAMES.length
        const db = copyDatabase(seeded.path, dir, `${which}.sqlite`)
        databases.push(db)
        servers[which] = await tracked(spawnServer([binaries[which]!, 'serve', '--db', db], {}, { cpus: '1' }))
      }
      return servers
    },
    { groups: Number(values.groups), rounds: Number(values.rounds), seconds, connections: 32, script, wrkCpus: '0' },
  )
  await stopTracked()
  printCpuShare(cpu.stop())
  report(`claims of two executables on one core (wrk -t1 -c32 each; ${values.groups} groups of processes; A ${values.a}, B ${values.b})`, {
    ...sharedCoreLines([...NAMES], measured, seconds, [[A, B], [B_COPY, B]]),
    'A / B': sharedCoreRatio(measured, A, B).toFixed(3),
    'B copy / B (the control)': sharedCoreRatio(measured, B_COPY, B).toFixed(3),
    'A / B, groups below 0.97': groupRatios(measured, A, B).filter((r) => r < 0.97).length,
  })
} finally {
  await stopTracked()
  for (const db of databases) removeDatabase(db)
  cleanup()
}
