/**
 * Runs on a worker thread: checkpoints the database's WAL through a connection
 * of its own, so that no request waits for a checkpoint's copy and fsync.
 * Its PASSIVE checkpoints never block the server's readers or writer; once
 * the WAL has grown it leaves the last stretch to the server's writer, which
 * then starts the WAL over (see RESTART_PAGES in db/index.ts).
 */
import { Database, type Statement } from 'bun:sqlite'
import { RESTART_IDLE, RESTART_WANTED } from './wal-restart'

declare const self: Worker

export interface CheckpointerStart {
  path: string
  intervalMs: number
  /** A WAL this long after a PASSIVE checkpoint is to be started over (see startBackgroundCheckpoints). */
  restartPages: number
  /** The request to the server's writer (wal-restart.ts), shared with it. */
  restart: Int32Array
}

let db: Database | undefined
let timer: ReturnType<typeof setInterval> | undefined
let statements: Statement[] = []
/** PASSIVEs before asking for the restart go on until one finds fewer new pages than this (1 MiB)… */
const SMALL_TAIL_PAGES = 256
/** …or this many have run. */
const MAX_PASSES = 6
/**
 * Ticks a request may wait for the server's writer before the worker takes it
 * back and checkpoints again: a server that does not write meanwhile leaves
 * another process's writes to the worker alone.
 */
const REQUEST_TICKS = 5

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
  // Never waits inside SQLite: the server's writer never waits for this connection.
  db.exec('PRAGMA busy_timeout = 0')
  const passive = db.prepare<{ log: number }, []>('PRAGMA wal_checkpoint(PASSIVE)')
  statements = [passive]
  const { restartPages, restart } = event.data
  let waited = 0
  timer = setInterval(() => {
    try {
      if (Atomics.load(restart, 0) !== RESTART_IDLE) {
        // Asked, or the writer is checkpointing: nothing to do here until it has.
        if (++waited < REQUEST_TICKS || Atomics.compareExchange(restart, 0, RESTART_WANTED, RESTART_IDLE) !== RESTART_WANTED) return
      }
      waited = 0
      let copied = passive.get()
      if (!copied || copied.log < restartPages) return
      // What the writer copies is what was written since the last PASSIVE:
      // PASSIVEs follow each other (each shorter, as it copies what came
      // during the one before) until that is little.
      for (let pass = 1, before = 0; pass < MAX_PASSES && copied.log - before > SMALL_TAIL_PAGES; pass++) {
        before = copied.log
        copied = passive.get()
        if (!copied) return
      }
      Atomics.store(restart, 0, RESTART_WANTED)
    } catch {
      // Busy (another process's checkpoint) or a full disk: the next tick tries again.
    }
  }, event.data.intervalMs)
  postMessage('started')
}
