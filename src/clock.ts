/**
 * The time, as the app reads it: milliseconds since the epoch. The app is
 * built with one (AppOptions.clock), so that tests set the time rather than
 * wait for it to pass.
 */
export type Clock = () => number

/** How often the monotonic clock is set against the wall clock again. */
const RESYNC_MS = 1000

/**
 * A wall clock to the microsecond that timestamps carry, never going back.
 * `performance.now()` gives the microseconds, but its rate is not the wall
 * clock's: left alone it drifts from it (about 1 ms in 100 s here, so most
 * of a minute in a month of uptime) and misses NTP's corrections. It is set
 * against `wall` again every second, when they differ by a millisecond or more.
 */
export function wallClock(wall: () => number = Date.now, monotonic: () => number = () => performance.now()): Clock {
  let offset = wall() - monotonic()
  let checkedAt = monotonic()
  let last = -Infinity
  return () => {
    const mono = monotonic()
    if (mono - checkedAt >= RESYNC_MS) {
      checkedAt = mono
      const drift = wall() - (offset + mono)
      if (Math.abs(drift) >= 1) offset += drift
    }
    const now = offset + mono
    // A correction backwards holds the time still until it catches up, so that timestamps keep their order.
    if (now > last) last = now
    return last
  }
}

export const systemClock: Clock = wallClock()
