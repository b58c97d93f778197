import { Database } from 'bun:sqlite'
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite'
import { unavailability } from './faults'
import { WriteHealth } from './health'
import { migrate } from './migrator'
import * as schema from './schema'
import { SCRATCH_DDL } from './scratch'
import type { CheckpointerStart } from './checkpoint-worker'
import { RESTART_IDLE, RESTART_RUNNING, RESTART_WANTED } from './wal-restart'
import { DEFAULT_LOCK_TIMEOUT_MS, WriteLock, type LockTimer } from './write-lock'

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database }

export interface OpenedDatabase {
  db: Db
  sqlite: Database
  /** True when this call created the database file. */
  created: boolean
}

export interface OpenOptions {
  /** How long a write may wait for a write lock that another process holds (ICEPROD_LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number
  /** What lock waits are measured and made with (tests); real timers by default. */
  lockTimer?: LockTimer
}

export { DEFAULT_LOCK_TIMEOUT_MS }

/** Every open database's write lock, which also keeps its write health. */
const writeLocks = new WeakMap<Database, WriteLock>()

function writeLockOf(sqlite: Database): WriteLock {
  const lock = writeLocks.get(sqlite)
  if (!lock) throw new Error('a database not opened with openDatabase')
  return lock
}

/**
 * Opens (creating if needed) and migrates the database. WAL lets readers run
 * beside the single writer; synchronous=NORMAL keeps every committed
 * transaction across a process kill (only an OS crash can lose the last ones).
 */
export function openDatabase(path: string, options: OpenOptions = {}): OpenedDatabase {
  const created = path === ':memory:' || !existsSync(path)
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const sqlite = new Database(path, { create: true, strict: true })
  sqlite.exec('PRAGMA busy_timeout = 10000')
  sqlite.exec('PRAGMA journal_mode = WAL')
  sqlite.exec('PRAGMA synchronous = NORMAL')
  sqlite.exec('PRAGMA foreign_keys = ON')
  sqlite.exec('PRAGMA temp_store = MEMORY')
  sqlite.exec('PRAGMA cache_size = -16000')
  // Checkpoints are the only fsyncs under synchronous=NORMAL. By default SQLite
  // runs them inline in the commit that crosses 1000 WAL pages; a server moves
  // them to a worker thread (startBackgroundCheckpoints). The WAL file is cut
  // back to 128 MiB when it starts over so that a burst does not leave it
  // large; twice RESTART_PAGES, so that a steady stream does not cut it back.
  sqlite.exec('PRAGMA journal_size_limit = 134217728')
  // Migrating may wait for another process's write lock: nothing is served yet.
  migrate(sqlite)
  const db = drizzle({ client: sqlite, schema }) as Db
  for (const ddl of SCRATCH_DDL) sqlite.exec(ddl)
  // From here on nothing waits inside SQLite: writes wait for the lock in WriteLock, without blocking the thread.
  sqlite.exec('PRAGMA busy_timeout = 0')
  const health = new WriteHealth(path === ':memory:' ? undefined : dirname(path))
  writeLocks.set(sqlite, new WriteLock(sqlite, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, health, options.lockTimer))
  return { db, sqlite, created }
}

/**
 * Checkpoints the WAL into the main file and closes, leaving nothing to
 * recover. On a full disk the checkpoint cannot grow the main file: the WAL
 * is left as it is (every commit is in it) and the next open applies it.
 */
export function closeDatabase(sqlite: Database): void {
  try {
    sqlite.exec('PRAGMA wal_checkpoint(TRUNCATE)')
  } catch (error) {
    if (unavailability(error) !== 'full') throw error
  } finally {
    sqlite.close()
  }
}

export { schema }

/** Whether the database answers a query: the health check. */
export function databaseAnswers(db: Db): boolean {
  try {
    db.$client.query('SELECT 1').get()
    return true
  } catch {
    return false
  }
}

/** Bytes of the database's main file (its pages) and of its write-ahead log. */
export function databaseSizes(db: Db, path: string): { main: number; wal: number } {
  const pages = db.$client.query<{ page_count: number }, []>('PRAGMA page_count').get()?.page_count ?? 0
  const pageSize = db.$client.query<{ page_size: number }, []>('PRAGMA page_size').get()?.page_size ?? 0
  return { main: pages * pageSize, wal: walSize(path) }
}

/** The size of the database's write-ahead log in bytes; 0 when it has none. */
export function walSize(dbPath: string): number {
  try {
    return statSync(`${dbPath}-wal`).size
  } catch {
    return 0
  }
}

/**
 * Runs `fn` in one write transaction, taken with BEGIN IMMEDIATE once the
 * write lock is free, without blocking the thread while another process
 * holds it (see write-lock.ts); resolves once it has committed. Refused with
 * a StorageUnavailable 'locked' when the lock stays taken past
 * ICEPROD_LOCK_TIMEOUT_MS, having changed nothing. `fn` is synchronous
 * (bun:sqlite is) and must not open another write transaction.
 */
export function writeTx<T>(db: Db, fn: () => T): Promise<T> {
  return writeLockOf(db.$client).run(fn)
}

/** Whether the database can take writes, as its writes found it (a full disk, see health.ts). */
export function writeHealth(sqlite: Database): WriteHealth {
  return writeLockOf(sqlite).health
}

/** The write health of a drizzle handle, for services, which never reach the SQLite connection. */
export function databaseWriteHealth(db: Db): WriteHealth {
  return writeHealth(db.$client)
}

/** Inline checkpoints only at the backstop, for a server whose checkpoint worker is about to start. */
export function deferInlineCheckpoints(sqlite: Database): void {
  sqlite.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`)
}

/** Inline checkpoints as SQLite makes them by default, every 1,000 WAL pages. */
export function inlineCheckpoints(sqlite: Database): void {
  sqlite.exec('PRAGMA wal_autocheckpoint = 1000')
}

/** How often the worker checkpoints. */
const CHECKPOINT_INTERVAL_MS = 200
/**
 * Inline checkpoints stay on as a backstop, far out, should the worker fall
 * behind: beyond what one bulk action of 100,000 tasks writes in its commit
 * (about 28,000 pages, see docs/BENCHMARKS.md), whose commit would otherwise
 * copy the whole WAL inline (0.2 s) instead of leaving it to the worker.
 */
const BACKSTOP_CHECKPOINT_PAGES = 50_000
/**
 * Past this many WAL pages (64 MiB) the WAL is started over. SQLite does
 * that at the first write that finds every frame of the WAL copied into the
 * database; under a steady stream of writes a checkpoint on
 * another connection never leaves it so (the writer commits more while it
 * copies and syncs), and a RESTART from there must take the write lock, which
 * a stream of group commits seldom leaves free: the WAL grew to the inline
 * backstop (about 200 MiB) under the claims benchmark. So the worker copies
 * all but the last stretch of it (its PASSIVEs go on until one finds less
 * than 1 MiB new), then asks the server's writer, which checkpoints the rest
 * between two of its transactions on its own connection: the copy of that
 * stretch and the checkpoint's two fsyncs hold up this thread, and the next
 * write starts the WAL over (docs/BENCHMARKS.md, claim p99). Each restart
 * holds up every request for that copy and three fsyncs (the first commit
 * after it syncs the new WAL header), 20–60 ms on this VM's disk, so they
 * must be rare: at 32 MiB, under the claims benchmark, one came every 4,000
 * claims or so and held up the 32 in flight, 0.8 % of the claims, next to
 * their p99. Half the journal_size_limit: what comes during the
 * worker's tick and its PASSIVEs (10–25 MiB there) still leaves the WAL
 * under the limit, so its file is written over in place, not cut back by
 * the first commit after the restart and grown again.
 */
const RESTART_PAGES = 16_384

/**
 * Moves WAL checkpoints off the serving thread: a worker with its own
 * connection checkpoints every 200 ms (`intervalMs`), so a commit never
 * stalls on a long copy, and the WAL is started over when it has grown (see
 * RESTART_PAGES). Returns a function that stops the worker and closes its connection.
 */
export async function startBackgroundCheckpoints(
  sqlite: Database,
  path: string,
  intervalMs = CHECKPOINT_INTERVAL_MS,
  restartPages = RESTART_PAGES,
): Promise<() => Promise<void>> {
  // In the compiled executable every module's import.meta.url is the bundle's
  // root (src/), where the worker entrypoint sits at db/checkpoint-worker.ts.
  const bundled = import.meta.url.includes('/$bunfs/')
  const worker = new Worker(new URL(bundled ? './db/checkpoint-worker.ts' : './checkpoint-worker.ts', import.meta.url).href)
  const reply = (expected: string) =>
    new Promise<void>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent) => (event.data === expected ? resolve() : reject(new Error(String(event.data))))
      worker.onerror = (event) => reject(new Error(event.message))
    })
  // The worker never keeps the process alive on its own.
  worker.unref()
  const started = reply('started')
  const restart = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT))
  worker.postMessage({ path, intervalMs, restartPages, restart } satisfies CheckpointerStart)
  try {
    await started
  } catch (error) {
    worker.terminate()
    throw error
  }
  deferInlineCheckpoints(sqlite)
  const lock = writeLockOf(sqlite)
  const checkpoint = sqlite.prepare('PRAGMA wal_checkpoint(PASSIVE)')
  lock.betweenTransactions = () => {
    if (Atomics.compareExchange(restart, 0, RESTART_WANTED, RESTART_RUNNING) !== RESTART_WANTED) return
    try {
      checkpoint.get()
    } catch {
      // Another process's checkpoint, or a full disk: the WAL goes on, and the worker asks again.
    } finally {
      Atomics.store(restart, 0, RESTART_IDLE)
    }
  }
  return async () => {
    lock.betweenTransactions = undefined
    // Left open, the statement would keep the connection alive after close().
    checkpoint.finalize()
    // Held while stopping: otherwise nothing may keep the process alive until the worker answers.
    worker.ref()
    const stopped = reply('stopped')
    worker.postMessage('stop')
    await stopped
    worker.terminate()
  }
}
