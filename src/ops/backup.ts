/**
 * Backup and restore of the database file.
 *
 * A backup is `VACUUM INTO` on a connection of its own: SQLite copies one
 * read transaction's snapshot, so the copy is consistent while the server
 * keeps writing (WAL lets it), and it is a compact single file.
 * A restore replaces the database file only when nothing has it open, and
 * keeps the file it replaces.
 */
import { Database } from 'bun:sqlite'
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'
import { embeddedMigrations } from '../db/migrator'

export class BackupError extends Error {}

/** SQLite's files beside a database: write-ahead log, its index, rollback journal. */
const SIDE_FILES = ['-wal', '-shm', '-journal']

/** Writes a consistent copy of the database at `dbPath` to the new file `target` (mode 0600). */
export function backupDatabase(dbPath: string, target: string): { bytes: number } {
  if (!existsSync(dbPath)) throw new BackupError(`no database at ${dbPath}`)
  let created: number
  try {
    // Creating the file first refuses an existing one atomically and makes it private.
    created = openSync(target, 'wx', 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new BackupError(`${target} already exists; a backup never overwrites a file`)
    throw new BackupError(`cannot create ${target}: ${(error as Error).message}`)
  }
  closeSync(created)
  let source: Database | undefined
  try {
    source = new Database(dbPath, { readwrite: true, create: false })
    source.exec('PRAGMA busy_timeout = 10000')
    source.run('VACUUM INTO ?', [target])
  } catch (error) {
    unlinkSync(target)
    throw new BackupError(`backup of ${dbPath} failed: ${(error as Error).message}`)
  } finally {
    source?.close()
  }
  return { bytes: statSync(target).size }
}

export interface RestoreResult {
  /** Where the database that was replaced now lives, if there was one. */
  previous?: string
}

/**
 * Replaces the database at `dbPath` with the backup at `backupPath`, after
 * checking the backup. Refuses while any process has the database open.
 */
export function restoreDatabase(backupPath: string, dbPath: string, now = new Date()): RestoreResult {
  checkBackup(backupPath)
  mkdirSync(dirname(dbPath), { recursive: true })
  const staged = `${dbPath}.restoring`
  rmSync(staged, { force: true })

  let previous: string | undefined
  if (existsSync(dbPath)) {
    previous = `${dbPath}.before-restore-${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`
    const probe = new Database(dbPath, { readwrite: true, create: false })
    try {
      probe.exec('PRAGMA busy_timeout = 0')
      // Leaving WAL mode needs the only connection to the file, so this fails while a server has it
      // open; when it succeeds the WAL is checkpointed into the file and removed.
      let mode: string | undefined
      try {
        mode = (probe.query('PRAGMA journal_mode = DELETE').get() as { journal_mode: string } | null)?.journal_mode
        if (mode === 'delete') probe.exec('BEGIN EXCLUSIVE')
      } catch {
        mode = undefined
      }
      if (mode !== 'delete') throw new BackupError(`${dbPath} is in use; stop the server first`)
      // Hold the exclusive lock while the copy is staged, so nothing starts writing meanwhile.
      copyFlushed(backupPath, staged)
      probe.exec('ROLLBACK')
    } finally {
      probe.close()
    }
    renameSync(dbPath, previous)
    for (const side of SIDE_FILES) if (existsSync(dbPath + side)) renameSync(dbPath + side, previous + side)
  } else {
    // Side files without their database are leftovers that must not be applied to the restored file.
    for (const side of SIDE_FILES) rmSync(dbPath + side, { force: true })
    copyFlushed(backupPath, staged)
  }
  renameSync(staged, dbPath)
  return { previous }
}

/** Copies the file `source` to `target` and flushes the copy to disk before it is used. */
export function copyFlushed(source: string, target: string): void {
  copyFileSync(source, target)
  const fd = openSync(target, 'r+')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** The backup must be an intact iceprod-rest database that this program's migrations know. */
function checkBackup(backupPath: string): void {
  if (!existsSync(backupPath)) throw new BackupError(`no backup at ${backupPath}`)
  let backup: Database
  try {
    backup = new Database(backupPath, { readonly: true })
  } catch (error) {
    throw new BackupError(`cannot open ${backupPath}: ${(error as Error).message}`)
  }
  try {
    let integrity: string
    try {
      integrity = (backup.query('PRAGMA integrity_check').all() as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ')
    } catch (error) {
      throw new BackupError(`${backupPath} is not a usable SQLite database: ${(error as Error).message}`)
    }
    if (integrity !== 'ok') throw new BackupError(`${backupPath} fails the integrity check: ${integrity}`)
    const hasMigrations = backup.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get()
    if (!hasMigrations) throw new BackupError(`${backupPath} is not an iceprod-rest database`)
    const applied = (backup.query('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n
    const known = embeddedMigrations().length
    if (applied > known) {
      throw new BackupError(`${backupPath} was written by a newer iceprod-rest (${applied} migrations; this one knows ${known})`)
    }
  } finally {
    backup.close()
  }
}
