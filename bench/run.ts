/** Runs the benchmark targets one after another and prints a summary table (see USAGE). */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { projectBinary } from './lib/binary'
import { cpuShare, waitForQuiet, type CpuShare } from './lib/cpu'
import { fmt, RESULT_PREFIX, type BenchResult } from './lib/report'
import { requireWrk } from './lib/wrk'

const USAGE = `Runs the benchmark targets one after another (they each need the whole
2-core machine) and prints a summary table.
Usage: bun bench/run.ts [--quick] [--soak] [--only claims,counts,...] [--quiet-wait S]
  --quick  smaller databases and shorter runs (a smoke run)
  --soak   also run bench/soak.ts
  --only   a comma-separated subset of: lookup, claims, counts, big-list, first-page, events, creation, startup, observability,
           lock-contention, materialization, scheduler-claims, completions, sweep, bulk, history, progress, soak
  --quiet-wait S  before each target, wait up to S seconds (default 120) for
           the shared machine to be nearly idle; 0 starts at once
Most targets load the servers with wrk, which must be installed.`

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    only: { type: 'string' },
    'quiet-wait': { type: 'string', default: '120' },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
const quick = values.quick

interface Target {
  name: string
  script: string
  /** Loads the servers with wrk. */
  wrk: boolean
}

const targets: Target[] = [
  { name: 'lookup', script: 'bench/lookup.ts', wrk: true },
  { name: 'claims', script: 'bench/claims.ts', wrk: true },
  { name: 'counts', script: 'bench/counts.ts', wrk: true },
  { name: 'big-list', script: 'bench/big-list.ts', wrk: false },
  { name: 'first-page', script: 'bench/first-page.ts', wrk: false },
  { name: 'events', script: 'bench/events.ts', wrk: false },
  { name: 'creation', script: 'bench/creation.ts', wrk: true },
  { name: 'startup', script: 'bench/startup.ts', wrk: false },
  { name: 'observability', script: 'bench/observability.ts', wrk: true },
  { name: 'lock-contention', script: 'bench/lock-contention.ts', wrk: false },
  { name: 'materialization', script: 'bench/materialization.ts', wrk: false },
  { name: 'scheduler-claims', script: 'bench/scheduler-claims.ts', wrk: true },
  { name: 'completions', script: 'bench/completions.ts', wrk: true },
  { name: 'sweep', script: 'bench/sweep.ts', wrk: false },
  { name: 'bulk', script: 'bench/bulk.ts', wrk: false },
  { name: 'history', script: 'bench/history.ts', wrk: true },
  { name: 'progress', script: 'bench/progress.ts', wrk: false },
]
if (values.soak) targets.push({ name: 'soak', script: 'bench/soak.ts', wrk: false })
const only = values.only?.split(',').map((s) => s.trim())
const unknown = only?.filter((name) => !targets.some((t) => t.name === name)) ?? []
if (unknown.length > 0) {
  console.error(`--only: unknown target ${unknown.join(', ')} (targets: ${targets.map((t) => t.name).join(', ')}${values.soak ? '' : '; soak needs --soak'})`)
  process.exit(2)
}
const chosen = only ? targets.filter((t) => only.includes(t.name)) : targets
// Checked once here rather than by each target after its wait for a quiet machine.
if (chosen.some((t) => t.wrk)) requireWrk()
const args = quick ? ['--quick'] : []
// Every target measures one executable, built here as `bun run build` builds it.
const env = { ...process.env, ICEPROD_BENCH_BINARY: projectBinary() }

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')

interface Outcome {
  target: Target
  exitCode: number
  seconds: number
  load: string
  /** CPU used by the target (its processes included) and by everything else meanwhile. */
  cpu: CpuShare
  results: BenchResult[]
}

/** Runs one script, echoing its output as it comes and keeping it for the summary. */
async function runTarget(target: Target): Promise<Outcome> {
  const quietWait = Number(values['quiet-wait'])
  if (quietWait > 0) {
    const busy = await waitForQuiet(quietWait)
    if (busy >= 0.25) console.log(`\n(the machine did not quieten within ${quietWait} s: ${fmt(busy)} cores busy with other work; starting anyway)`)
  }
  console.log(`\n### ${target.name}: bun ${[target.script, ...args].join(' ')}  (load average ${loadAverage()})`)
  const started = performance.now()
  const cpu = cpuShare()
  const proc = Bun.spawn(['bun', target.script, ...args], { env, stdout: 'pipe', stderr: 'inherit' })
  let output = ''
  const decoder = new TextDecoder()
  for await (const chunk of proc.stdout) {
    const text = decoder.decode(chunk, { stream: true })
    output += text
    process.stdout.write(text)
  }
  const exitCode = await proc.exited
  const share = cpu.stop()
  const results = output
    .split('\n')
    .filter((line) => line.startsWith(RESULT_PREFIX))
    .map((line) => JSON.parse(line.slice(RESULT_PREFIX.length)) as BenchResult)
  return { target, exitCode, seconds: (performance.now() - started) / 1000, load: loadAverage(), cpu: share, results }
}

const outcomes: Outcome[] = []
for (const target of chosen) outcomes.push(await runTarget(target))

const rows: string[][] = [['target', 'result', 'figure', 'goal', 'baseline (same run)', 'other load']]
for (const o of outcomes) {
  if (o.exitCode !== 0) {
    rows.push([o.target.name, 'FAILED', `exit code ${o.exitCode}`, '', '', ''])
    continue
  }
  const others = `${fmt(o.cpu.otherCores)} cores`
  if (o.results.length === 0) rows.push([o.target.name, 'DONE', 'no result line: see its output above', '', '', others])
  for (const r of o.results) rows.push([r.target, r.met ? 'MET' : 'NOT MET', r.figure, r.goal, r.baseline ?? '', others])
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')
console.log(`\n## Summary${quick ? ' (--quick: smaller sizes, shorter runs)' : ''}, ${new Date().toISOString()}`)
console.log(line(rows[0]!))
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
for (const row of rows.slice(1)) console.log(line(row))
console.log(`\nother load: cores kept busy by other processes on this ${navigator.hardwareConcurrency}-core machine, on average over the target's run`)
console.log(`load average after each target: ${outcomes.map((o) => `${o.target.name} ${o.load} (${fmtSeconds(o.seconds)})`).join('; ')}`)
process.exitCode = outcomes.some((o) => o.exitCode !== 0) ? 1 : 0

function fmtSeconds(s: number): string {
  return s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s)}s`
}

