/**
 * The database's write lock, taken without blocking the thread.
 *
 * Another process on the same file (a second server, a script) may hold
 * SQLite's write lock. SQLite's own wait for it (busy_timeout) sleeps inside
 * the call, which would stop every request of this process, reads included,
 * for as long as the other one writes. So the serving connection never waits
 * inside SQLite (busy_timeout 0, set by openDatabase): BEGIN IMMEDIATE is
 * tried, and while it finds the lock taken it is tried again after short
 * timer waits, during which the event loop serves everything else. A write
 * that has not got the lock by its deadline (ICEPROD_LOCK_TIMEOUT_MS after it
 * asked) is refused, having changed nothing. This process's writes take the
 * lock in the order they asked for it.
 *
 * Once the lock is taken, the transaction's work and its COMMIT run at once,
 * synchronously (bun:sqlite is synchronous): nothing else of this process
 * runs in between, and the lock is held only as long as the work takes.
 */
import type { Database, Statement } from 'bun:sqlite'
import { StorageUnavailable, unavailability } from './faults'
import type { WriteHealth } from './health'

/** How long a write waits by default for a write lock that another process holds (ICEPROD_LOCK_TIMEOUT_MS). */
export const DEFAULT_LOCK_TIMEOUT_MS = 2000

/** What a lock wait is measured and made with: real timers, or a test's own. */
export interface LockTimer {
  /** Milliseconds, from any fixed origin. */
  now(): number
  /** Resolves after `ms`, or as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const realTimer: LockTimer = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      const end = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', end)
        resolve()
      }
      const timer = setTimeout(end, ms)
      signal?.addEventListener('abort', end, { once: true })
    }),
}

/**
 * Waits between tries while another connection holds the lock: short first,
 * as SQLite's own busy handler does, then every 5 ms (longer steps would add
 * up to their length to every wait).
 */
const RETRY_DELAYS_MS = [1, 2, 5]

interface Waiter {
  work: () => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  deadline: number
}

export class WriteLock {
  private readonly waiting: Waiter[] = []
  private polling = false
  private readonly begin: Statement
  private readonly commit: Statement
  private readonly rollback: Statement
  /** Runs before each write transaction begins, between two of them (the WAL's restart, see startBackgroundCheckpoints). */
  betweenTransactions: (() => void) | undefined

  constructor(
    private readonly sqlite: Database,
    private readonly timeoutMs: number,
    readonly health: WriteHealth,
    private readonly timer: LockTimer = realTimer,
  ) {
    this.begin = sqlite.prepare('BEGIN IMMEDIATE')
    this.commit = sqlite.prepare('COMMIT')
    this.rollback = sqlite.prepare('ROLLBACK')
  }

  /** Runs `work` in a write transaction of its own, once the lock is this connection's. */
  run<T>(work: () => T): Promise<T> {
    // The work of a transaction is synchronous: one can only be opened inside another by a
    // write that calls a helper which writes, whose errors the outer work could not see.
    if (this.sqlite.inTransaction) return Promise.reject(new Error('a write transaction cannot be opened inside another one'))
    if (this.waiting.length === 0) {
      let began: boolean
      try {
        began = this.tryBegin()
      } catch (error) {
        return Promise.reject(error)
      }
      if (began) return settled(() => this.finish(work))
    }
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ work, resolve: resolve as (value: unknown) => void, reject, deadline: this.timer.now() + this.timeoutMs })
      if (!this.polling) void this.poll()
    })
  }

  /** Takes the lock for the waiting writes, one after another, until none is left. */
  private async poll(): Promise<void> {
    this.polling = true
    let tries = 0
    try {
      while (this.waiting.length > 0) {
        const now = this.timer.now()
        // Deadlines come in the order the writes asked: the expired ones are at the front.
        while (this.waiting.length > 0 && this.waiting[0]!.deadline <= now) {
          this.waiting.shift()!.reject(new StorageUnavailable('locked', 'database is locked by another writer; retry'))
        }
        const next = this.waiting[0]
        if (next === undefined) break
        let began: boolean
        try {
          began = this.tryBegin()
        } catch (error) {
          this.waiting.shift()
          next.reject(error)
          continue
        }
        if (began) {
          this.waiting.shift()
          tries = 0
          try {
            next.resolve(this.finish(next.work))
          } catch (error) {
            next.reject(error)
          }
          continue
        }
        const delay = RETRY_DELAYS_MS[Math.min(tries++, RETRY_DELAYS_MS.length - 1)]!
        await this.timer.sleep(Math.max(0, Math.min(delay, next.deadline - now)))
      }
    } finally {
      this.polling = false
    }
  }

  /** BEGIN IMMEDIATE; false when another connection holds the write lock. */
  private tryBegin(): boolean {
    this.betweenTransactions?.()
    try {
      this.begin.run()
      return true
    } catch (error) {
      if (unavailability(error) === 'locked') return false
      this.health.failed(error)
      throw error
    }
  }

  /** Runs the work in the transaction just begun and commits it, or rolls it back. */
  private finish<T>(work: () => T): T {
    let result: T
    try {
      result = work()
      this.commit.run()
    } catch (error) {
      // A failed COMMIT may already have ended the transaction (SQLite rolls back on a full disk).
      if (this.sqlite.inTransaction) this.rollback.run()
      this.health.failed(error)
      throw error
    }
    this.health.committed()
    return result
  }
}

/** `fn`'s value or error as a settled promise. */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn())
  } catch (error) {
    return Promise.reject(error)
  }
}
