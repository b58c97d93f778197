/**
 * The raw baseline for the claims, counts, big-list and creation targets: a
 * minimal Bun.serve + bun:sqlite program on the project's database file (same
 * tables, triggers and pragmas), written the straightforward way:
 * - a claim is one UPDATE ... RETURNING in its own transaction (one commit per claim);
 * - a creation is one INSERT in its own transaction (one commit per task);
 * - counts are a GROUP BY recount over the dataset's tasks;
 * - a listing reads every row and builds the whole body in memory; a page
 *   of it (`limit`, `offset`) is LIMIT ... OFFSET ....
 * Like bench/baseline-lookup.ts it only checks that an Authorization header is
 * present, and it trusts request bodies (the benchmarks send valid ones).
 * Usage: bun bench/baseline-server.ts --db FILE --port N
 */
import { Database } from 'bun:sqlite'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { db: { type: 'string' }, port: { type: 'string' } } })
const db = new Database(values.db!, { strict: true })
db.exec('PRAGMA busy_timeout = 10000')
db.exec('PRAGMA journal_mode = WAL')
db.exec('PRAGMA synchronous = NORMAL')
db.exec('PRAGMA cache_size = -16000')
db.exec('PRAGMA wal_autocheckpoint = 10000')

const TASK_STATUSES = ['idle', 'waiting', 'queued', 'processing', 'reset', 'suspended', 'failed', 'complete']
const JOB_STATUSES = ['processing', 'failed', 'suspended', 'errors', 'complete']
const headers = { 'content-type': 'application/json' }
const json = (body: string, status = 200) => new Response(body, { status, headers })
const now = () => new Date().toISOString().replace('Z', '000')

const claim = db.prepare<{ doc: string }, Record<string, number | string>>(`
  UPDATE tasks SET doc = json_set(doc, '$.status', 'processing', '$.status_changed', $now)
  WHERE task_id = (
    SELECT task_id FROM task_queue
    WHERE has_other = 0 AND (cpu IS NULL OR cpu <= $cpu) AND (gpu IS NULL OR gpu <= $gpu)
      AND (memory IS NULL OR memory <= $memory) AND (disk IS NULL OR disk <= $disk) AND (time IS NULL OR time <= $time)
    ORDER BY priority DESC, seq LIMIT 1)
  RETURNING doc`)
const jobIndex = db.prepare<{ job_index: number }, [string, string]>('SELECT job_index FROM jobs WHERE job_id = ? AND dataset_id = ?')
const insertTask = db.prepare('INSERT INTO tasks (task_id, doc) VALUES (?, ?)')
const taskRecount = db.prepare<{ status: string; n: number }, [string]>('SELECT status, count(*) AS n FROM tasks WHERE dataset_id = ? GROUP BY status')
const jobRecount = db.prepare<{ status: string; n: number }, [string]>('SELECT status, count(*) AS n FROM jobs WHERE dataset_id = ? GROUP BY status')
const allTasks = db.prepare<{ task_id: string; doc: string }, [string]>('SELECT task_id, doc FROM tasks WHERE dataset_id = ? ORDER BY rowid')
const pageOfTasks = db.prepare<{ task_id: string; doc: string }, [string, number, number]>('SELECT task_id, doc FROM tasks WHERE dataset_id = ? ORDER BY rowid LIMIT ? OFFSET ?')

function inOrder(order: string[], rows: { status: string; n: number }[]): string {
  const counts: Record<string, number> = {}
  for (const status of order) {
    const row = rows.find((r) => r.status === status)
    if (row) counts[status] = row.n
  }
  return JSON.stringify(counts)
}

/** Numeric offer bounds; an offer that does not mention a key meets only requirements <= 0. */
function bounds(offer: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const key of ['cpu', 'gpu', 'memory', 'disk', 'time']) out[key] = typeof offer[key] === 'number' ? (offer[key] as number) : 0
  return out
}

Bun.serve({
  hostname: '127.0.0.1',
  port: Number(values.port),
  async fetch(request) {
    const url = new URL(request.url)
    const path = url.pathname
    if (path === '/healthz') return json('{"status":"ok"}')
    if (!request.headers.get('authorization')) return json('{"code":401,"error":"no token"}', 401)
    if (request.method === 'POST' && path === '/task_actions/process') {
      const body = (await request.json()) as { requirements?: Record<string, unknown> }
      const row = claim.get({ ...bounds(body.requirements ?? {}), now: now() })
      return row ? json(row.doc) : json('{"code":404,"error":"no queued task fits"}', 404)
    }
    if (request.method === 'POST' && path === '/tasks') {
      const body = (await request.json()) as Record<string, unknown>
      const job = jobIndex.get(String(body.job_id), String(body.dataset_id))
      if (!job) return json('{"code":400,"error":"no such job"}', 400)
      const taskId = Bun.randomUUIDv7().replaceAll('-', '')
      const doc = { ...body, task_id: taskId, job_index: job.job_index, status: 'waiting', status_changed: now(), failures: 0, evictions: 0, walltime: 0.0, walltime_err: 0.0, walltime_err_n: 0 }
      insertTask.run(taskId, JSON.stringify(doc))
      return new Response(JSON.stringify({ result: taskId }), { status: 201, headers: { ...headers, location: `/tasks/${taskId}` } })
    }
    const dataset = path.match(/^\/datasets\/(\w+)\/(tasks|task_counts\/status|job_counts\/status)$/)
    if (request.method === 'GET' && dataset) {
      const [, datasetId, route] = dataset as unknown as [string, string, string]
      if (route === 'task_counts/status') return json(inOrder(TASK_STATUSES, taskRecount.all(datasetId)))
      if (route === 'job_counts/status') return json(inOrder(JOB_STATUSES, jobRecount.all(datasetId)))
      const limit = url.searchParams.get('limit')
      const rows = limit ? pageOfTasks.all(datasetId, Number(limit), Number(url.searchParams.get('offset') ?? 0)) : allTasks.all(datasetId)
      return json('{' + rows.map((row) => JSON.stringify(row.task_id) + ':' + row.doc).join(',') + '}')
    }
    return json('{"code":404,"error":"not found"}', 404)
  },
})
