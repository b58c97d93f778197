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
  db.exec('PRAGMA busy_timeout = 1000')
  const passive = db.prepare<{ log: number }, []>('PRAGMA wal_checkpoint(PASSIVE)')
  const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)')
  statements = [passive, restart]
  const { restartPages } = event.data
  timer = setInterval(() => {
    try {
      const copied = passive.get()
      if (copied && copied.log >= restartPages) restart.get()
    } catch {
      // Busy or locked: the next tick tries again.
    }
  }, event.data.intervalMs)
  postMessage('started')
}
