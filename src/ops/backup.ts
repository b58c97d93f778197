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
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
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
 * checking the copy that is put in place. Refuses while any process has the
 * database open, and a backup with writes in a `-wal` beside it.
 */
export function restoreDatabase(backupPath: string, dbPath: string, now = new Date()): RestoreResult {
  if (!existsSync(backupPath)) throw new BackupError(`no backup at ${backupPath}`)
  refuseWriteAheadLog(backupPath)
  mkdirSync(dirname(dbPath), { recursive: true })
  removeAbandonedStagings(dbPath)
  // A folder of this restore's own beside the database, so that no other restore, nor what an interrupted one left, meets its files.
  const staging = mkdtempSync(`${dbPath}${STAGING}${process.pid}-`)
  const staged = join(staging, 'restored.sqlite')
  try {
    copyFlushed(backupPath, staged)
    // What is checked is the copy that is put in place, whatever happens to the backup meanwhile.
    checkBackup(staged, backupPath)
    let previous: string | undefined
    if (existsSync(dbPath)) {
      refuseInUse(dbPath)
      previous = freeName(`${dbPath}.before-restore-${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`)
      renameSync(dbPath, previous)
      for (const side of SIDE_FILES) if (existsSync(dbPath + side)) renameSync(dbPath + side, previous + side)
    } else {
      // Side files without their database are leftovers that must not be applied to the restored file.
      for (const side of SIDE_FILES) rmSync(dbPath + side, { force: true })
    }
    renameSync(staged, dbPath)
    return { previous }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

/** A restore stages its copy in `<db>.restoring-<pid>-<random>`: the pid says whether the restore that made it still runs. */
const STAGING = '.restoring-'

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // Alive, but another user's.
    return (error as { code?: string }).code === 'EPERM'
  }
}

/**
 * Removes what restores of this database that were killed left (a staged copy
 * as large as the backup): every staging folder whose process is gone, and
 * those without a pid in their name.
 */
function removeAbandonedStagings(dbPath: string): void {
  const prefix = basename(dbPath) + STAGING
  for (const name of readdirSync(dirname(dbPath))) {
    if (!name.startsWith(prefix)) continue
    const pid = Number(name.slice(prefix.length).split('-')[0])
    if (Number.isSafeInteger(pid) && pid > 0 && isRunning(pid)) continue
    rmSync(join(dirname(dbPath), name), { recursive: true, force: true })
  }
}

/**
 * A backup whose `-wal` holds writes is a live database or a copy taken by
 * hand: its file alone lacks those writes, and restoring it would lose them.
 */
function refuseWriteAheadLog(backupPath: string): void {
  const log = `${backupPath}-wal`
  const bytes = existsSync(log) ? statSync(log).size : 0
  if (bytes > 0) {
    throw new BackupError(
      `${log} (${bytes} bytes) holds writes the backup file lacks; make the backup with \`iceprod-rest backup <file>\` (one file, which has none)`,
    )
  }
}

/** Leaving WAL mode needs the only connection to the file, so this fails while a server has it open; when it succeeds the WAL is checkpointed into the file and removed. */
function refuseInUse(dbPath: string): void {
  const probe = new Database(dbPath, { readwrite: true, create: false })
  try {
    probe.exec('PRAGMA busy_timeout = 0')
    let mode: string | undefined
    try {
      mode = (probe.query('PRAGMA journal_mode = DELETE').get() as { journal_mode: string } | null)?.journal_mode
      // A file already out of WAL mode: a process in a transaction on it holds a lock.
      if (mode === 'delete') probe.exec('BEGIN EXCLUSIVE; ROLLBACK')
    } catch {
      mode = undefined
    }
    if (mode !== 'delete') throw new BackupError(`${dbPath} is in use; stop the server first`)
  } finally {
    probe.close()
  }
}

/** `name`, or `name-2`, `name-3`… : the first that neither a file nor its side files use, so that a kept database is never replaced. */
function freeName(name: string): string {
  const taken = (candidate: string) => ['', ...SIDE_FILES].some((side) => existsSync(candidate + side))
  let candidate = name
  for (let n = 2; taken(candidate); n++) candidate = `${name}-${n}`
  return candidate
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

/**
 * The staged copy of the backup (named `shownAs` in messages) must be an
 * intact iceprod-rest database that this program's migrations know. It is
 * left in rollback-journal mode, so that it has no side files.
 */
function checkBackup(staged: string, shownAs: string): void {
  let backup: Database
  try {
    backup = new Database(staged, { readwrite: true, create: false })
  } catch (error) {
    throw new BackupError(`cannot open ${shownAs}: ${(error as Error).message}`)
  }
  try {
    let integrity: string
    try {
      backup.exec('PRAGMA journal_mode = DELETE')
      integrity = (backup.query('PRAGMA integrity_check').all() as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ')
    } catch (error) {
      throw new BackupError(`${shownAs} is not a usable SQLite database: ${(error as Error).message}`)
    }
    if (integrity !== 'ok') throw new BackupError(`${shownAs} fails the integrity check: ${integrity}`)
    const hasMigrations = backup.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get()
    if (!hasMigrations) throw new BackupError(`${shownAs} is not an iceprod-rest database`)
    const applied = (backup.query('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n
    const known = embeddedMigrations().length
    if (applied > known) {
      throw new BackupError(`${shownAs} was written by a newer iceprod-rest (${applied} migrations; this one knows ${known})`)
    }
  } finally {
    backup.close()
  }
}
