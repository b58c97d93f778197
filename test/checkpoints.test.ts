import { expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeDatabase, openDatabase, startBackgroundCheckpoints } from '../src/db'

setDefaultTimeout(60_000)

/** The worker's interval here: a tenth of the server's, so that a pause of a few intervals is short. */
const INTERVAL_MS = 20
/** Between bursts: time for several of the worker's checkpoints, should a busy machine delay some. */
const PAUSE_MS = 4 * INTERVAL_MS

/**
 * Writes `batches` bursts of single-row transactions; with the worker, pauses
 * between bursts (without it nothing happens in a pause); returns the WAL's
 * largest size.
 */
async function writeBursts(db: string, background: boolean): Promise<number> {
  const { sqlite } = openDatabase(db)
  const stop = background ? await startBackgroundCheckpoints(sqlite, db, INTERVAL_MS) : undefined
  if (!background) sqlite.exec('PRAGMA wal_autocheckpoint = 25000') // the same backstop, no worker
  const insert = sqlite.prepare('INSERT INTO grids (grid_id, doc) VALUES (?, ?)')
  let largest = 0
  for (let burst = 0; burst < 10; burst++) {
    for (let i = 0; i < 400; i++) insert.run(`g${burst}_${i}`, JSON.stringify({ grid_id: `g${burst}_${i}`, pad: 'x'.repeat(300) }))
    largest = Math.max(largest, statSync(`${db}-wal`).size)
    if (background) await Bun.sleep(PAUSE_MS)
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

test('once the worker has stopped, closing the database leaves an empty WAL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-checkpoints-'))
  try {
    // Stopped at once, and after a checkpoint or two: each left the worker's statement open.
    for (const [round, runMs] of [0, 0, 0, 0, 0, 0, INTERVAL_MS, 2 * INTERVAL_MS].entries()) {
      const db = join(dir, `stop-${round}.sqlite`)
      const { sqlite } = openDatabase(db)
      const insert = sqlite.prepare('INSERT INTO grids (grid_id, doc) VALUES (?, ?)')
      for (let i = 0; i < 50; i++) insert.run(`g${i}`, JSON.stringify({ grid_id: `g${i}`, pad: 'x'.repeat(300) }))
      const stop = await startBackgroundCheckpoints(sqlite, db, INTERVAL_MS)
      if (runMs > 0) await Bun.sleep(runMs)
      await stop()
      closeDatabase(sqlite)
      expect({ round, wal: existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0 }).toEqual({ round, wal: 0 })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
