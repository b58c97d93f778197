/**
 * CPU time from /proc: of one process, of this script with its children, and
 * of the whole machine, so that a figure can be read against the load other
 * people's work put on the shared machine while it was measured.
 */
import { readFileSync } from 'node:fs'
import { fmt } from './report'

/** USER_HZ on Linux: /proc reports CPU time in hundredths of a second. */
const TICKS_PER_SECOND = 100

/** Busy CPU time of the whole machine, in clock ticks (all CPUs, from /proc/stat). */
function machineBusyTicks(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal ...: everything but idle and iowait
  return cpu.reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!
}

/** utime, stime, cutime and cstime of a process (stat fields 14-17), in clock ticks. */
function processTicks(pid: number | 'self'): [number, number, number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return [Number(fields[11]), Number(fields[12]), Number(fields[13]), Number(fields[14])]
}

/** User + system CPU seconds a process has used so far. */
export function cpuSecondsOf(pid: number): number {
  const [user, system] = processTicks(pid)
  return (user + system) / TICKS_PER_SECOND
}

/** CPU time of this process and of its children that have exited and been waited for, in clock ticks. */
function ownTicks(): number {
  return processTicks('self').reduce((a, b) => a + b, 0)
}

export interface CpuShare {
  seconds: number
  /** Cores kept busy by this script, its servers and load generators (once they have exited). */
  ownCores: number
  /** Cores kept busy by everything else on the machine: other people's work, the kernel. */
  otherCores: number
}

/**
 * Measures how much of the machine this script used and how much other
 * processes used meanwhile, so a figure can be read against the load it was
 * measured under. Stop it only after every server and load generator has exited.
 */
export function cpuShare(): { stop(): CpuShare } {
  const started = performance.now()
  const busy0 = machineBusyTicks()
  const own0 = ownTicks()
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000
      const busy = machineBusyTicks() - busy0
      const own = ownTicks() - own0
      return { seconds, ownCores: own / TICKS_PER_SECOND / seconds, otherCores: Math.max(0, busy - own) / TICKS_PER_SECOND / seconds }
    },
  }
}

/** Prints how busy the machine was with other work during the script (see cpuShare). */
export function printCpuShare(share: CpuShare): void {
  console.log(`  machine: ${navigator.hardwareConcurrency} cores; over ${fmt(share.seconds)} s this benchmark used ${fmt(share.ownCores)} cores, other processes ${fmt(share.otherCores)} cores on average`)
  console.log(`BENCH-CPU ${JSON.stringify(share)}`)
}

/**
 * Waits, up to `maxSeconds`, until the machine has been nearly idle (less than
 * `maxCores` busy) for a 2-second window, since on a shared machine another
 * person's build or test run halves what a benchmark measures. Call it while
 * nothing of the benchmark's own is running. Returns the cores busy in the last window.
 */
export async function waitForQuiet(maxSeconds: number, maxCores = 0.25): Promise<number> {
  const deadline = performance.now() + maxSeconds * 1000
  for (;;) {
    const busy0 = machineBusyTicks()
    await Bun.sleep(2000)
    const cores = (machineBusyTicks() - busy0) / TICKS_PER_SECOND / 2
    if (cores < maxCores || performance.now() >= deadline) return cores
  }
}
