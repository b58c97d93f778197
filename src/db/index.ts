import { Database } from 'bun:sqlite'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite'
import { migrate } from './migrator'
import * as schema from './schema'

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database }

export interface OpenedDatabase {
  db: Db
  sqlite: Database
  /** True when this call created the database file. */
  created: boolean
}

/**
 * Opens (creating if needed) and migrates the database. WAL lets readers run
 * beside the single writer; synchronous=NORMAL keeps every committed
 * transaction across a process kill (only an OS crash can lose the last ones).
 */
export function openDatabase(path: string): OpenedDatabase {
  const created = path === ':memory:' || !existsSync(path)
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const sqlite = new Database(path, { create: true, strict: true })
  sqlite.exec('PRAGMA busy_timeout = 10000')
  sqlite.exec('PRAGMA journal_mode = WAL')
  sqlite.exec('PRAGMA synchronous = NORMAL')
  sqlite.exec('PRAGMA foreign_keys = ON')
  sqlite.exec('PRAGMA temp_store = MEMORY')
  sqlite.exec('PRAGMA cache_size = -16000')
  // Checkpoints (the only fsyncs under synchronous=NORMAL) run inline on the
  // committing write: let the WAL grow to ~40 MB between them so that busy
  // writers pay for one far less often, and cut the file back after each.
  sqlite.exec('PRAGMA wal_autocheckpoint = 10000')
  sqlite.exec('PRAGMA journal_size_limit = 67108864')
  const db = drizzle({ client: sqlite, schema }) as Db
  migrate(db)
  return { db, sqlite, created }
}

/** Checkpoints the WAL into the main file and closes, leaving nothing to recover. */
export function closeDatabase(sqlite: Database): void {
  try {
    sqlite.exec('PRAGMA wal_checkpoint(TRUNCATE)')
  } finally {
    sqlite.close()
  }
}

export { schema }

/**
 * Runs `fn` in one write transaction taken with BEGIN IMMEDIATE, so that a
 * second process on the same file waits for the lock instead of failing
 * halfway. `fn` must not await: bun:sqlite is synchronous.
 */
export function writeTx<T>(db: Db, fn: () => T): T {
  return db.$client.transaction(fn).immediate()
}
