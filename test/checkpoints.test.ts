import { expect, setDefaultTimeout, test } from 'bun:test'
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeDatabase, deferInlineCheckpoints, openDatabase, startBackgroundCheckpoints, writeTx } from '../src/db'

setDefaultTimeout(60_000)

/** The worker's interval here: a tenth of the server's. */
const INTERVAL_MS = 20

/**
 * Whether a checkpoint has copied every frame of the WAL into the database,
 * read from the wal-index (the -shm file) without taking part: its header's
 * mxFrame (offset 16) and its checkpoint info's nBackfill (offset 96), in
 * the machine's byte order, little-endian here (SQLite's file format, "WAL-index format").
 */
function checkpointed(db: string): boolean {
  const header = walIndexHeader(db)
  const mxFrame = header.readUInt32LE(16)
  return mxFrame > 0 && header.readUInt32LE(96) === mxFrame
}

/** The frames in the WAL, from the wal-index header: fewer than before once the WAL has been started over. */
function mxFrame(db: string): number {
  return walIndexHeader(db).readUInt32LE(16)
}

function walIndexHeader(db: string): Buffer {
  const header = Buffer.alloc(100)
  const fd = openSync(`${db}-shm`, 'r')
  try {
    readSync(fd, header, 0, header.length, 0)
  } finally {
    closeSync(fd)
  }
  return header
}

/** Waits, without a fixed pause, until the worker (a thread on its own timer) has checkpointed the whole WAL. */
async function untilCheckpointed(db: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; !checkpointed(db); await Bun.sleep(1)) {
    if (Date.now() > deadline) throw new Error('the worker did not checkpoint the WAL within 10 s')
  }
}

/**
 * Writes `batches` bursts of single-row transactions; with the worker, waits
 * after each burst for it to checkpoint (without it nothing would happen in a
 * wait); returns the WAL's largest size.
 */
async function writeBursts(db: string, background: boolean): Promise<number> {
  const { sqlite } = openDatabase(db)
  const stop = background ? await startBackgroundCheckpoints(sqlite, db, INTERVAL_MS) : undefined
  if (!background) deferInlineCheckpoints(sqlite) // the same backstop, no worker
  const insert = sqlite.prepare('INSERT INTO grids (grid_id, doc) VALUES (?, ?)')
  let largest = 0
  for (let burst = 0; burst < 10; burst++) {
    for (let i = 0; i < 400; i++) insert.run(`g${burst}_${i}`, JSON.stringify({ grid_id: `g${burst}_${i}`, pad: 'x'.repeat(300) }))
    largest = Math.max(largest, statSync(`${db}-wal`).size)
    if (background) await untilCheckpointed(db)
  }
  await stop?.()
  closeDatabase(sqlite)
  return largest
}

test('the checkpoint worker keeps the WAL from growing while the server writes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-checkpoints-'))
  try {
    const withWorker = await writeBursts(join(dir, 'a.sqlite'), true)
    const without = await writeBursts(join(dir, 'b.sqlite'), false)
    // Without checkpoints the WAL holds every burst; with the worker it is reset between bursts.
    expect(without).toBeGreaterThan(4 * withWorker)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('under a steady stream of writes the WAL is started over each time it has grown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-checkpoints-'))
  const RESTART_PAGES = 1024
  try {
    const db = join(dir, 'stream.sqlite')
    const { db: drizzled, sqlite } = openDatabase(db)
    const pageSize = sqlite.query<{ page_size: number }, []>('PRAGMA page_size').get()!.page_size
    const stop = await startBackgroundCheckpoints(sqlite, db, INTERVAL_MS, RESTART_PAGES)
    const insert = sqlite.prepare('INSERT INTO grids (grid_id, doc) VALUES (?, ?)')
    const row = 'x'.repeat(pageSize - 200)
    // Back to back, each holding the write lock for a millisecond, as a busy
    // server's group commits do: the lock is free only between two of them.
    let written = 0
    let restarts = 0
    let frames = 0
    for (let n = 0; written < 12 * RESTART_PAGES * pageSize; n++) {
      await writeTx(drizzled, () => {
        for (let i = 0; i < 20; i++) insert.run(`g${n}_${i}`, JSON.stringify({ grid_id: `g${n}_${i}`, row }))
        Bun.sleepSync(1)
      })
      written += 20 * pageSize
      const now = mxFrame(db)
      if (now < frames) restarts++
      frames = now
    }
    const largest = statSync(`${db}-wal`).size
    insert.finalize()
    await stop()
    closeDatabase(sqlite)
    // Without a restart the WAL would hold all that was written: 12 times the restart length.
    expect(restarts).toBeGreaterThanOrEqual(6)
    expect(largest).toBeLessThan(4 * RESTART_PAGES * pageSize)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('once the worker has stopped, closing the database leaves an empty WAL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-checkpoints-'))
  try {
    // Stopped at once, and after one checkpoint or two: each left the worker's statement open.
    for (const [round, checkpoints] of [0, 0, 0, 0, 0, 0, 1, 2].entries()) {
      const db = join(dir, `stop-${round}.sqlite`)
      const { sqlite } = openDatabase(db)
      const insert = sqlite.prepare('INSERT INTO grids (grid_id, doc) VALUES (?, ?)')
      const write = (from: number) => {
        for (let i = from; i < from + 50; i++) insert.run(`g${i}`, JSON.stringify({ grid_id: `g${i}`, pad: 'x'.repeat(300) }))
      }
      write(0)
      const stop = await startBackgroundCheckpoints(sqlite, db, INTERVAL_MS)
      for (let done = 0; done < checkpoints; done++) {
        // Each checkpoint has something to copy: rows written after the one before.
        if (done > 0) write(50 * done)
        await untilCheckpointed(db)
      }
      await stop()
      closeDatabase(sqlite)
      expect({ round, wal: existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0 }).toEqual({ round, wal: 0 })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
