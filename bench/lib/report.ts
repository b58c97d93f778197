/** Figures as the benchmarks print them, and the result lines bench/run.ts collects into its summary. */

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

/** Milliseconds and counts printed without noise: 1234.5678 -> "1235", 3.14159 -> "3.14". */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  return Math.abs(value) >= 100 ? String(Math.round(value)) : String(Number(value.toFixed(2)))
}

export function report(title: string, lines: Record<string, string | number>) {
  console.log(`\n== ${title}`)
  for (const [k, v] of Object.entries(lines)) console.log(`  ${k.padEnd(34)} ${typeof v === 'number' ? Number(v.toFixed(2)) : v}`)
}

/** One measured target, as printed for bench/run.ts. */
export interface BenchResult {
  target: string
  /** The measured figure with its unit, e.g. "6123 claims/s". */
  figure: string
  /** The goal, e.g. ">= 5000 claims/s". */
  goal: string
  met: boolean
  /** The baseline's figure measured in the same run, when there is one. */
  baseline?: string
}

/** Marks the lines bench/run.ts collects into its summary. */
export const RESULT_PREFIX = 'BENCH-RESULT '

export function printResult(result: BenchResult): void {
  console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`)
}
