/**
 * Crash durability: writers run against the server while it is killed with
 * SIGKILL, several times; every write acknowledged with 2xx must survive and
 * the database must pass integrity_check.
 */
import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServerProcess } from './server-process'
import { copyMigratedDatabase } from './support'

const dir = mkdtempSync(join(tmpdir(), 'iceprod-crash-'))
const db = join(dir, 'iceprod.sqlite')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const WRITERS = 8
const ROUNDS = 3

test('acknowledged writes survive repeated SIGKILL mid-write', async () => {
  const acknowledged: string[] = []
  let attempted = 0
  // A copy of the migrated database: creating and migrating one is the end-to-end test's.
  copyMigratedDatabase(db)
  for (let round = 0; round < ROUNDS; round++) {
    const server = await startServerProcess(db)
    const token = await server.token('admin')
    let killed = false
    const writer = async (w: number) => {
      for (let i = 0; !killed && i < 100_000; i++) {
        const name = `/crash/r${round}/w${w}/${i}`
        attempted++
        try {
          const r = await fetch(`${server.url}/groups`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ name, payload: 'x'.repeat(200) }),
          })
          if (r.status === 201) acknowledged.push(name)
          else if (!killed) throw new Error(`unexpected ${r.status}`)
        } catch (error) {
          if (!killed) throw error
          return
        }
      }
    }
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w))
    // Let writes pile up, then kill the process without warning.
    const before = acknowledged.length
    while (acknowledged.length < before + 300) await Bun.sleep(10)
    killed = true
    server.proc.kill('SIGKILL')
    await server.proc.exited
    await Promise.all(writers)
  }
  expect(acknowledged.length).toBeGreaterThan(ROUNDS * 300)
  expect(attempted).toBeGreaterThan(acknowledged.length - 1)

  // Every acknowledged write is in the file the last kill left (the second and third rounds' servers started on
  // what the kills before left), and the file is sound.
  const sqlite = new Database(db)
  try {
    const names = new Set((sqlite.query("SELECT json_extract(doc, '$.name') AS name FROM groups").all() as { name: string }[]).map((g) => g.name))
    const missing = acknowledged.filter((name) => !names.has(name))
    expect(missing).toEqual([])
    expect(sqlite.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
  } finally {
    sqlite.close()
  }
}, 120_000)
