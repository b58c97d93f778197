/**
 * Runs the benchmark targets one after another (they each need the whole
 * 2-core machine) and prints a summary table.
 * Usage: bun bench/run.ts [--quick] [--soak] [--only claims,counts,...]
 *   --quick  smaller databases and shorter runs (a smoke run)
 *   --soak   also run bench/soak.ts, when it exists
 *   --only   a comma-separated subset of: lookup, claims, counts, big-list, creation, startup, observability, soak
 *   --quiet-wait S  before each target, wait up to S seconds (default 120) for
 *            the shared machine to be nearly idle; 0 starts at once
 */
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { cpuShare, fmt, RESULT_PREFIX, waitForQuiet, type BenchResult, type CpuShare } from './lib'

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, soak: { type: 'boolean', default: false }, only: { type: 'string' }, 'quiet-wait': { type: 'string', default: '120' } },
})
const quick = values.quick

interface Target {
  name: string
  script: string
  args: string[]
}

const targets: Target[] = [
  { name: 'lookup', script: 'bench/lookup.ts', args: quick ? ['--quick'] : [] },
  { name: 'claims', script: 'bench/claims.ts', args: quick ? ['--quick'] : [] },
  { name: 'counts', script: 'bench/counts.ts', args: quick ? ['--quick'] : [] },
  { name: 'big-list', script: 'bench/big-list.ts', args: quick ? ['--quick'] : [] },
  { name: 'creation', script: 'bench/creation.ts', args: quick ? ['--quick'] : [] },
  { name: 'startup', script: 'bench/startup.ts', args: quick ? ['--quick'] : [] },
  { name: 'observability', script: 'bench/observability.ts', args: quick ? ['--quick'] : [] },
]
if (values.soak) {
  if (existsSync('bench/soak.ts')) targets.push({ name: 'soak', script: 'bench/soak.ts', args: quick ? soakQuickArgs(readFileSync('bench/soak.ts', 'utf8')) : [] })
  else console.log('--soak: bench/soak.ts does not exist, skipped')
}
const only = values.only?.split(',').map((s) => s.trim())
const unknown = only?.filter((name) => !targets.some((t) => t.name === name)) ?? []
if (unknown.length > 0) {
  console.error(`--only: unknown target ${unknown.join(', ')} (targets: ${targets.map((t) => t.name).join(', ')}${values.soak ? '' : '; soak needs --soak'})`)
  process.exit(2)
}
const chosen = only ? targets.filter((t) => only.includes(t.name)) : targets

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
  console.log(`\n### ${target.name}: bun ${target.script} ${target.args.join(' ')}  (load average ${loadAverage()})`)
  const started = performance.now()
  const cpu = cpuShare()
  const proc = Bun.spawn(['bun', target.script, ...target.args], { stdout: 'pipe', stderr: 'inherit' })
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

/** The soak script's smoke-run flags: --quick if it knows it, else a short measured phase and warm-up. */
function soakQuickArgs(source: string): string[] {
  if (source.includes("quick:")) return ['--quick']
  if (source.includes('--seconds') && source.includes('--warmup')) return ['--seconds', '20', '--warmup', '3']
  return []
}
