/**
 * Scheduler target — completions with roll-up: POST
 * /tasks/<id>/task_actions/complete from 32 connections, each request a
 * different processing task, with the scheduler on: half the completions
 * queue the task that waits for them, the other half complete their job
 * (and roll its dataset up). ≥ 5,000 completions/s. The same server with
 * ICEPROD_SCHEDULER=off, completing the same tasks without any of that, runs
 * in the same run for comparison.
 *
 * wrk -t1 -c32 for 6 s, off/on alternating on fresh copies of the seeded
 * database; afterwards the database must show every completion answered 200
 * and, with the scheduler on, its follow-ups: a queued task for each
 * completed first task of an even job, a complete job for each of an odd
 * one, and counts equal to a recount.
 * Usage: bun bench/completions.ts [--quick] [--seconds N] [--rounds N]
 */
import { Database } from 'bun:sqlite'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { alternate, loadRunOptions } from './lib/ab'
import { countsMatchRecount } from './lib/counts'
import { cpuShare, printCpuShare } from './lib/cpu'
import { fmt, median, printResult, report } from './lib/report'
import { copyDatabase, removeDatabase, tempDir } from './lib/seed'
import { startProject, stopTracked, token, tracked } from './lib/servers'
import { wrkRun } from './lib/wrk'
import { pairsDataset } from './shapes'

const { quick, seconds, rounds, connections } = loadRunOptions(32, 6, 1)
const GOAL = 5000
const seeded = pairsDataset(quick)
const firsts = seeded.taskIds.filter((_, i) => i % 2 === 0)
const bearer = token(seeded.path, 'pilot')
const { dir, cleanup } = tempDir('completions')
type Mode = 'on' | 'off'

// The paths are read from a file: a Lua table written out in the script could not hold 200,000 constants.
const pathsFile = join(dir, 'paths.txt')
writeFileSync(pathsFile, firsts.map((id) => `/tasks/${id}/task_actions/complete`).join('\n') + '\n')
const script = `wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${bearer}"
local paths = {}
for line in io.lines("${pathsFile}") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", paths[i], nil, '{"time_used": 600}')
end
`

function check(mode: Mode, db: string, succeeded: number): void {
  const sqlite = new Database(db, { readonly: true })
  try {
    const one = (sql: string) => sqlite.query<{ n: number }, []>(sql).get()!.n
    const completed = one("SELECT count(*) AS n FROM tasks WHERE task_index = 0 AND status = 'complete'")
    if (completed < succeeded || completed > succeeded + connections) throw new Error(`${mode}: ${completed} completed after ${succeeded} answered 200`)
    if (mode === 'off') return
    const queuedSeconds = one("SELECT count(*) AS n FROM tasks WHERE task_index = 1 AND status = 'queued'")
    const evenDone = one("SELECT count(*) AS n FROM tasks WHERE task_index = 0 AND job_index % 2 = 0 AND status = 'complete'")
    const oddDone = one("SELECT count(*) AS n FROM tasks WHERE task_index = 0 AND job_index % 2 = 1 AND status = 'complete'")
    const jobsComplete = one("SELECT count(*) AS n FROM jobs WHERE status = 'complete'")
    if (queuedSeconds !== evenDone) throw new Error(`on: ${queuedSeconds} second tasks queued for ${evenDone} first tasks completed`)
    if (jobsComplete !== oddDone) throw new Error(`on: ${jobsComplete} jobs complete for ${oddDone} odd jobs done`)
    if (!countsMatchRecount(sqlite)) throw new Error('on: the task counts differ from a recount')
  } finally {
    sqlite.close()
  }
}

async function round(mode: Mode): Promise<{ rate: number; p99Ms: number }> {
  const db = copyDatabase(seeded.path, dir, `${mode}.sqlite`)
  const proc = await tracked(startProject(db, { ICEPROD_SCHEDULER: mode }))
  const run = wrkRun(proc.url, { connections, seconds, script })
  await proc.stop()
  if (run.errors) throw new Error(`${mode}: ${run.errors} socket errors`)
  if (run.non2xx) throw new Error(`${mode}: ${run.non2xx} completions not answered 200 (${firsts.length} tasks run out? use fewer --seconds)`)
  check(mode, db, run.succeeded)
  removeDatabase(db)
  const r = { rate: run.succeeded / run.seconds, p99Ms: run.p99Ms }
  console.log(`  ${mode}: ${fmt(r.rate)} completions/s, p50 ${fmt(run.p50Ms)} ms, p99 ${fmt(run.p99Ms)} ms`)
  return r
}

const cpu = cpuShare()
try {
  const runs = await alternate(rounds, ['off', 'on'] as const, round)
  const on = median(runs.on.map((r) => r.rate))
  const off = median(runs.off.map((r) => r.rate))
  printCpuShare(cpu.stop())
  report(`completions with roll-up (${firsts.length} processing tasks, ${connections} connections, ${seconds} s runs)`, {
    'on completions/s (median)': on,
    'off completions/s (median)': off,
    'on / off': on / off,
    'on runs': runs.on.map((r) => Math.round(r.rate)).join(' '),
    'off runs': runs.off.map((r) => Math.round(r.rate)).join(' '),
    'on p99 ms (median)': median(runs.on.map((r) => r.p99Ms)),
    result: on >= GOAL ? 'MET' : 'NOT MET',
  })
  printResult({ target: 'completions with roll-up', figure: `${fmt(on)} completions/s (${fmt(on / off)} × off)`, goal: `>= ${GOAL} completions/s`, met: on >= GOAL, baseline: `${fmt(off)} completions/s with ICEPROD_SCHEDULER=off` })
} finally {
  await stopTracked()
  cleanup()
}
