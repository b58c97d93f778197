/**
 * The write lock taken without blocking the thread (src/db/write-lock.ts),
 * against a second connection to the same file that holds BEGIN IMMEDIATE as
 * another process would. Lock waits run on manual timers that the test
 * moves, so nothing here sleeps.
 */
import { Database } from 'bun:sqlite'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeDatabase, DEFAULT_LOCK_TIMEOUT_MS, openDatabase, writeTx, type OpenedDatabase } from '../src/db'
import { unavailability } from '../src/db/faults'
import { GroupCommit } from '../src/db/group-commit'
import { realTimer, type LockTimer } from '../src/db/write-lock'

/** Time that moves only when told; sleepers wake as it passes their time. */
class ManualTimer implements LockTimer {
  private time = 0
  private sleepers: { until: number; wake: () => void }[] = []

  now(): number {
    return this.time
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ until: this.time + ms, wake }))
  }

  /** Moves the time by `ms`, waking every sleeper whose time has come, and lets them run. */
  async advance(ms: number): Promise<void> {
    this.time += ms
    const due = this.sleepers.filter((s) => s.until <= this.time)
    this.sleepers = this.sleepers.filter((s) => s.until > this.time)
    for (const sleeper of due) sleeper.wake()
    await turn()
  }
}

/** Lets promise callbacks and setImmediate work queued so far run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Whether a promise has settled yet, without waiting for it. */
function watch<T>(promise: Promise<T>) {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown }
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error) => Object.assign(state, { settled: true, error }),
  )
  return state
}

const dir = mkdtempSync(join(tmpdir(), 'iceprod-write-lock-'))
const path = join(dir, 'iceprod.sqlite')
let timer: ManualTimer
let opened: OpenedDatabase
/** Another connection, as another process's would be. */
let holder: Database

beforeAll(() => {
  timer = new ManualTimer()
  opened = openDatabase(path, { lockTimer: timer })
  holder = new Database(path)
  holder.exec('PRAGMA busy_timeout = 0')
})
afterAll(() => {
  holder.close()
  closeDatabase(opened.sqlite)
  rmSync(dir, { recursive: true, force: true })
})

const insert = (name: string) => () => opened.sqlite.run('INSERT INTO sequences (name, value) VALUES (?, 0)', [name])
const names = (prefix: string) => (holder.query('SELECT name FROM sequences WHERE name LIKE ? ORDER BY rowid').all(`${prefix}%`) as { name: string }[]).map((r) => r.name)

function holdLock(): () => void {
  holder.exec('BEGIN IMMEDIATE')
  return () => holder.exec('ROLLBACK')
}

describe('write lock', () => {
  test('the serving connection never waits inside SQLite', () => {
    expect(opened.sqlite.query('PRAGMA busy_timeout').get()).toEqual({ timeout: 0 })
  })

  test('a free lock is taken at once: the write has committed before anything else runs', async () => {
    const write = watch(writeTx(opened.db, insert('free-1')))
    expect(names('free-')).toEqual(['free-1'])
    await turn()
    expect(write.settled).toBe(true)
  })

  test('while another connection holds the lock, a write waits on timers, reads go on, and it commits once the lock is free', async () => {
    const release = holdLock()
    const write = watch(writeTx(opened.db, insert('wait-1')))
    for (let i = 0; i < 20; i++) await timer.advance(10)
    // Still waiting after 200 ms, and the thread serves reads meanwhile.
    expect(write.settled).toBe(false)
    expect(opened.sqlite.query('SELECT count(*) AS n FROM sequences').get()).toEqual({ n: expect.any(Number) })
    release()
    await timer.advance(20)
    expect(write).toMatchObject({ settled: true, error: undefined })
    expect(names('wait-')).toEqual(['wait-1'])
  })

  test(`past the lock timeout (${DEFAULT_LOCK_TIMEOUT_MS} ms by default) a write is refused as locked and has changed nothing`, async () => {
    const release = holdLock()
    try {
      const started = timer.now()
      const write = watch(writeTx(opened.db, insert('late-1')))
      while (timer.now() - started < DEFAULT_LOCK_TIMEOUT_MS - 10) await timer.advance(5)
      expect(write.settled).toBe(false)
      while (!write.settled && timer.now() - started < DEFAULT_LOCK_TIMEOUT_MS + 100) await timer.advance(5)
      expect(write.settled).toBe(true)
      expect(timer.now() - started).toBeGreaterThanOrEqual(DEFAULT_LOCK_TIMEOUT_MS)
      expect(unavailability(write.error)).toBe('locked')
    } finally {
      release()
    }
    expect(names('late-')).toEqual([])
    // The next write goes through.
    await writeTx(opened.db, insert('late-2'))
    expect(names('late-')).toEqual(['late-2'])
  })

  test("this process's writes take the lock in the order they asked for it, also one asked after the lock came free", async () => {
    const release = holdLock()
    const order: string[] = []
    const write = (name: string) => writeTx(opened.db, () => {
      insert(name)()
      order.push(name)
    })
    const first = [write('order-1'), write('order-2'), write('order-3')]
    await timer.advance(10)
    release()
    const later = write('order-4')
    await timer.advance(20)
    await Promise.all([...first, later])
    expect(order).toEqual(['order-1', 'order-2', 'order-3', 'order-4'])
    expect(names('order-')).toEqual(order)
  })

  test('a write that fails is rolled back and the next one still gets the lock', async () => {
    const failing = writeTx(opened.db, () => {
      insert('fail-1')()
      throw new Error('refused')
    })
    await expect(failing).rejects.toThrow('refused')
    await writeTx(opened.db, insert('fail-2'))
    expect(names('fail-')).toEqual(['fail-2'])
    expect(opened.sqlite.inTransaction).toBe(false)
  })

  test('a write transaction cannot be opened inside another one', async () => {
    let inner: Promise<unknown> | undefined
    await writeTx(opened.db, () => {
      inner = writeTx(opened.db, insert('nested-1'))
    })
    await expect(inner!).rejects.toThrow('inside another')
    expect(names('nested-')).toEqual([])
  })

  test('a group commit batch waits for the lock, and writes asked meanwhile wait in the next batch', async () => {
    /** What the other connection saw committed when each write ran: its batch's transaction was still open. */
    const committedBefore: Record<string, number> = {}
    const group = new GroupCommit<string, string>(opened.db, (name) => {
      committedBefore[name] = names('gc-').length
      insert(name)()
      return name
    })
    const release = holdLock()
    const firstBatch = [group.run('gc-1'), group.run('gc-2')]
    await timer.advance(10)
    const secondBatch = [group.run('gc-3'), group.run('gc-4')]
    await timer.advance(10)
    const watched = [...firstBatch, ...secondBatch].map(watch)
    expect(watched.some((w) => w.settled)).toBe(false)
    release()
    await timer.advance(20)
    expect(await Promise.all([...firstBatch, ...secondBatch])).toEqual(['gc-1', 'gc-2', 'gc-3', 'gc-4'])
    expect(names('gc-')).toEqual(['gc-1', 'gc-2', 'gc-3', 'gc-4'])
    // Two transactions: the second began after the first had committed.
    expect(committedBefore).toEqual({ 'gc-1': 0, 'gc-2': 0, 'gc-3': 2, 'gc-4': 2 })
  })

  test('a group commit batch past the lock timeout is refused whole and writes nothing', async () => {
    const group = new GroupCommit<string, string>(opened.db, (name) => {
      insert(name)()
      return name
    })
    const release = holdLock()
    let outcomes: PromiseSettledResult<string>[]
    try {
      const all = Promise.allSettled([group.run('gc-late-1'), group.run('gc-late-2')])
      const done = watch(all)
      while (!done.settled && timer.now() < 1e9) await timer.advance(50)
      outcomes = await all
    } finally {
      release()
    }
    expect(outcomes.map((o) => (o.status === 'rejected' ? unavailability(o.reason) : o.status))).toEqual(['locked', 'locked'])
    expect(names('gc-late-')).toEqual([])
  })
})

describe('the real timer', () => {
  test('a sleep ends as soon as its signal aborts, its timer cleared', async () => {
    const cancel = new AbortController()
    // Far longer than the test may run: it passes only if the abort ends the sleep.
    const sleeping = realTimer.sleep(600_000, cancel.signal)
    cancel.abort()
    await sleeping
    const aborted = new AbortController()
    aborted.abort()
    await realTimer.sleep(600_000, aborted.signal)
    await realTimer.sleep(0)
  })
})
