/**
 * Another process reading the database while a benchmark writes to it (for
 * bench/bulk.ts): its own bun:sqlite connection, in WAL mode, reading one
 * random task document after another for `--seconds`, then printing its
 * read latencies as JSON. In WAL mode a reader never waits for the writer.
 * Usage: bun bench/reader.ts --db FILE --seconds N
 */
import { Database } from 'bun:sqlite'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { db: { type: 'string' }, seconds: { type: 'string', default: '5' } } })
const sqlite = new Database(values.db!, { readonly: true })
sqlite.exec('PRAGMA busy_timeout = 10000')
const ids = (sqlite.query('SELECT task_id FROM tasks WHERE rowid % 100 = 0').all() as { task_id: string }[]).map((row) => row.task_id)
const read = sqlite.prepare<{ doc: string }, [string]>('SELECT doc FROM tasks WHERE task_id = ?')
const times: number[] = []
const until = performance.now() + Number(values.seconds) * 1000
// Ready: the benchmark starts its writes after this line.
console.error('reading')
while (performance.now() < until) {
  const started = performance.now()
  if (!read.get(ids[Math.floor(Math.random() * ids.length)]!)) throw new Error('a task went missing')
  times.push(performance.now() - started)
  // Up to 1,000 reads a second, leaving the CPU to the server under test.
  await Bun.sleep(1)
}
times.sort((a, b) => a - b)
const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!
console.log(JSON.stringify({ reads: times.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: times[times.length - 1] }))
