/** A process's memory from /proc/<pid>/status. */
import { readFileSync } from 'node:fs'

export interface Memory {
  /** Resident set size now (VmRSS), MB. */
  rssMb: number
  /** Peak resident set size since the process started (VmHWM), MB. */
  hwmMb: number
}

/** VmRSS and VmHWM of a process; NaN when it is gone. */
export function memoryOf(pid: number): Memory {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? NaN)
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 }
  } catch {
    return { rssMb: NaN, hwmMb: NaN }
  }
}

/**
 * Samples a process's memory every `intervalMs` from a timer, until `stop()`,
 * which returns the highest VmRSS seen and the final VmHWM. The sampler runs
 * on the caller's event loop, so the caller must keep awaiting (e.g. a fetch).
 */
export function sampleMemory(pid: number, intervalMs = 10): { stop(): { peakRssMb: number; hwmMb: number; samples: number } } {
  let peakRssMb = 0
  let samples = 0
  const take = () => {
    const m = memoryOf(pid)
    if (m.rssMb > peakRssMb) peakRssMb = m.rssMb
    samples++
  }
  take()
  const timer = setInterval(take, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      take()
      return { peakRssMb, hwmMb: memoryOf(pid).hwmMb, samples }
    },
  }
}
