/**
 * Runs on a worker thread: checkpoints the database's WAL through a connection
 * of its own, so that no request ever waits for a checkpoint's copy and fsync.
 * PASSIVE checkpoints never block the server's readers or writer.
 */
import { Database } from 'bun:sqlite'

declare const self: Worker

export interface CheckpointerStart {
  path: string
  intervalMs: number
}

let db: Database | undefined
let checkpoint: ReturnType<Database['prepare']> | undefined
let timer: ReturnType<typeof setInterval> | undefined

self.onmessage = (event: MessageEvent<CheckpointerStart | 'stop'>) => {
  if (event.data === 'stop') {
    clearInterval(timer)
    // A statement left open keeps the connection alive after close(), and the
    // server's closing TRUNCATE checkpoint would find it busy.
    checkpoint?.finalize()
    db?.close()
    postMessage('stopped')
    return
  }
  db = new Database(event.data.path)
  db.exec('PRAGMA busy_timeout = 1000')
  checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)')
  timer = setInterval(() => {
    try {
      checkpoint!.get()
    } catch {
      // Busy or locked: the next tick tries again.
    }
  }, event.data.intervalMs)
  postMessage('started')
}
