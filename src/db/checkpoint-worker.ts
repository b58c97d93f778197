/**
 * Runs on a worker thread: checkpoints the database's WAL through a connection
 * of its own, so that no request waits for a checkpoint's copy and fsync.
 * PASSIVE checkpoints never block the server's readers or writer; the
 * RESTART that follows one when the WAL has grown briefly holds back writes
 * (see RESTART_PAGES in db/index.ts).
 */
import { Database, type Statement } from 'bun:sqlite'

declare const self: Worker

export interface CheckpointerStart {
  path: string
  intervalMs: number
  /** A WAL this long after a PASSIVE checkpoint is restarted (see startBackgroundCheckpoints). */
  restartPages: number
}

let db: Database | undefined
let timer: ReturnType<typeof setInterval> | undefined
let statements: Statement[] = []
/** Tries of a RESTART per tick, each taking the write lock only if it is free then. */
const RESTART_TRIES = 20
/** PASSIVEs before a RESTART go on until one finds fewer new pages than this (1 MiB)… */
const SMALL_TAIL_PAGES = 256
/** …or this many have run. */
const MAX_PASSES = 6

self.onmessage = (event: MessageEvent<CheckpointerStart | 'stop'>) => {
  if (event.data === 'stop') {
    clearInterval(timer)
    // Statements left open keep the connection alive after close(), and the
    // server's closing TRUNCATE checkpoint would find it busy.
    for (const statement of statements) statement.finalize()
    db?.close()
    postMessage('stopped')
    return
  }
  db = new Database(event.data.path)
  // Never waits inside SQLite: a RESTART that waited for the write lock would
  // let the WAL grow meanwhile, then copy all of that while holding it.
  db.exec('PRAGMA busy_timeout = 0')
  const passive = db.prepare<{ log: number }, []>('PRAGMA wal_checkpoint(PASSIVE)')
  const restart = db.prepare<{ busy: number }, []>('PRAGMA wal_checkpoint(RESTART)')
  statements = [passive, restart]
  const { restartPages } = event.data
  timer = setInterval(() => {
    try {
      let copied = passive.get()
      if (!copied || copied.log < restartPages) return
      // What a RESTART copies while holding the write lock is what was written
      // since the last PASSIVE: PASSIVEs follow each other (each shorter, as
      // it copies what came during the one before) until that is little.
      for (let pass = 1, before = 0; pass < MAX_PASSES && copied.log - before > SMALL_TAIL_PAGES; pass++) {
        before = copied.log
        copied = passive.get()
        if (!copied) return
      }
      // The RESTART takes the write lock only when the server's writer is
      // between transactions, which a few tries a millisecond apart find.
      for (let attempt = 0; attempt < RESTART_TRIES; attempt++) {
        if (restart.get()?.busy === 0) return
        Bun.sleepSync(1)
      }
    } catch {
      // Locked or busy: the next tick tries again.
    }
  }, event.data.intervalMs)
  postMessage('started')
}
