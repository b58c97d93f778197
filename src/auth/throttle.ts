/**
 * Failed-login throttle: after too many failed logins for one username or one
 * client address within a window, further attempts get 429 until the window
 * ends. Bounded memory: the oldest entries are dropped past a fixed count,
 * and an entry whose count is taken back to 0 is dropped at once.
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

export class LoginThrottle {
  private readonly windows = new Map<string, Window>()

  constructor(private readonly limits: ThrottleLimits = DEFAULT_LIMITS) {}

  private keys(username: string, address: string | undefined): [string, number][] {
    const keys: [string, number][] = [[`u:${username}`, this.limits.perUsername]]
    if (address) keys.push([`a:${address}`, this.limits.perAddress])
    return keys
  }

  /**
   * Throws 429 when the username or the address has used up its failures;
   * else counts this attempt as failed at once, before LDAP answers, so that
   * attempts sent together cannot all pass the check. `succeeded` or
   * `unanswered` takes it back.
   */
  attempt(username: string, address: string | undefined, nowMs = Date.now()): void {
    for (const [key, limit] of this.keys(username, address)) {
      const window = this.windows.get(key)
      if (!window) continue
      const age = nowMs - window.startedMs
      if (age >= this.limits.windowMs) this.windows.delete(key)
      else if (window.failures >= limit) fail(429, `too many failed logins; retry in ${Math.ceil((this.limits.windowMs - age) / 1000)} s`)
    }
    for (const [key] of this.keys(username, address)) {
      const window = this.windows.get(key)
      const live = window !== undefined && nowMs - window.startedMs < this.limits.windowMs
      // Re-inserting keeps the Map in least-recently-failed order, so spraying
      // new usernames evicts idle entries, never the address doing the spraying.
      this.windows.delete(key)
      if (this.windows.size >= this.limits.maxEntries) this.windows.delete(this.windows.keys().next().value as string)
      this.windows.set(key, live ? { failures: window.failures + 1, startedMs: window.startedMs } : { failures: 1, startedMs: nowMs })
    }
  }

  /** A successful login clears the username's failures, and takes back the address's count of this attempt. */
  succeeded(username: string, address: string | undefined): void {
    this.windows.delete(`u:${username}`)
    if (address) this.takeBack(`a:${address}`)
  }

  /** An attempt LDAP did not answer (unavailable, or not configured) is no failure. */
  unanswered(username: string, address: string | undefined): void {
    for (const [key] of this.keys(username, address)) this.takeBack(key)
  }

  /** How many usernames and addresses the throttle holds: what its memory grows with. */
  held(): number {
    return this.windows.size
  }

  private takeBack(key: string): void {
    const window = this.windows.get(key)
    if (!window) return
    if (window.failures > 1) window.failures--
    else this.windows.delete(key)
  }
}
