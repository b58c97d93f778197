/**
 * Failed-login throttle: after too many failed logins for one username or one
 * client address within a window, further attempts get 429 until the window
 * ends. Bounded memory: the oldest entries are dropped past a fixed count,
 * and an entry whose count is taken back to 0 is dropped at once.
 *
 * Attempts sent at once are held to the same limits: those for one username
 * take turns (each checks the count once the one before it has its answer),
 * and those of one address that are waiting for their answer count against
 * a higher ceiling, so that a proxy's honest burst of logins passes while a
 * burst of guesses stays bounded.
 */
import { fail } from '../errors'

interface Window {
  failures: number
  startedMs: number
}

export interface ThrottleLimits {
  perUsername: number
  perAddress: number
  windowMs: number
  maxEntries: number
}

export const DEFAULT_LIMITS: ThrottleLimits = { perUsername: 5, perAddress: 20, windowMs: 5 * 60_000, maxEntries: 10_000 }

/** An address's failures and attempts awaiting their answer together may reach this many times its failure limit. */
export const IN_FLIGHT_FACTOR = 4

/**
 * What an attempt's check found: `true` the password is right, `false` it is
 * wrong. A check that throws (LDAP unavailable, not configured) counts as no
 * failure.
 */
export type LoginCheck = () => Promise<boolean>

export class LoginThrottle {
  private readonly windows = new Map<string, Window>()
  /** Per username, the end of the last attempt in its line. */
  private readonly turns = new Map<string, Promise<void>>()
  /** Per address, attempts whose check is under way. */
  private readonly inFlight = new Map<string, number>()

  constructor(private readonly limits: ThrottleLimits = DEFAULT_LIMITS) {}

  /**
   * One login attempt: throws 429 when the username or the address has used
   * up its failures, else runs `check` and counts a wrong password as a
   * failure of both; a right one clears the username's failures. Returns
   * what `check` found.
   */
  async attempt(username: string, address: string | undefined, now: () => number, check: LoginCheck): Promise<boolean> {
    const userKey = `u:${username}`
    const before = this.turns.get(userKey)
    let done!: () => void
    const mine = new Promise<void>((resolve) => (done = resolve))
    this.turns.set(userKey, mine)
    try {
      await before
      this.admit(userKey, address, now())
      const ok = await this.inFlightFor(address, check)
      if (ok) this.windows.delete(userKey)
      else this.countFailure(username, address, now())
      return ok
    } finally {
      done()
      if (this.turns.get(userKey) === mine) this.turns.delete(userKey)
    }
  }

  /** How many usernames and addresses the throttle holds: what its memory grows with. */
  held(): number {
    return this.windows.size + this.turns.size + this.inFlight.size
  }

  /** Throws 429 when the username or the address may not try now. */
  private admit(userKey: string, address: string | undefined, nowMs: number): void {
    this.refuseIfUsedUp(userKey, this.limits.perUsername, 0, nowMs)
    if (address) {
      const limit = this.limits.perAddress
      this.refuseIfUsedUp(`a:${address}`, limit, 0, nowMs)
      this.refuseIfUsedUp(`a:${address}`, IN_FLIGHT_FACTOR * limit, this.inFlight.get(address) ?? 0, nowMs)
    }
  }

  private refuseIfUsedUp(key: string, limit: number, inFlight: number, nowMs: number): void {
    const window = this.live(key, nowMs)
    const failures = window?.failures ?? 0
    if (failures + inFlight < limit) return
    const waitMs = window ? this.limits.windowMs - (nowMs - window.startedMs) : 0
    fail(429, `too many failed logins; retry in ${Math.max(1, Math.ceil(waitMs / 1000))} s`)
  }

  /** The key's window, unless it has ended (then it is dropped). */
  private live(key: string, nowMs: number): Window | undefined {
    const window = this.windows.get(key)
    if (window && nowMs - window.startedMs >= this.limits.windowMs) {
      this.windows.delete(key)
      return undefined
    }
    return window
  }

  private async inFlightFor(address: string | undefined, check: LoginCheck): Promise<boolean> {
    if (!address) return check()
    this.inFlight.set(address, (this.inFlight.get(address) ?? 0) + 1)
    try {
      return await check()
    } finally {
      const left = (this.inFlight.get(address) ?? 1) - 1
      if (left > 0) this.inFlight.set(address, left)
      else this.inFlight.delete(address)
    }
  }

  private countFailure(username: string, address: string | undefined, nowMs: number): void {
    const keys = [`u:${username}`]
    if (address) keys.push(`a:${address}`)
    for (const key of keys) {
      const window = this.live(key, nowMs)
      // Re-inserting keeps the Map in least-recently-failed order, so spraying
      // new usernames evicts idle entries, never the address doing the spraying.
      this.windows.delete(key)
      if (this.windows.size >= this.limits.maxEntries) this.windows.delete(this.windows.keys().next().value as string)
      this.windows.set(key, window ? { failures: window.failures + 1, startedMs: window.startedMs } : { failures: 1, startedMs: nowMs })
    }
  }
}
