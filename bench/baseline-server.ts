/**
 * The raw baseline for the claims, counts, big-list and creation targets: a
 * minimal Bun.serve + bun:sqlite program on the project's database file (same
 * tables, triggers and pragmas), written the straightforward way:
 * - a claim is one UPDATE ... RETURNING in its own transaction (one commit per claim);
 * - a creation is one INSERT in its own transaction (one commit per task);
 * - counts are a GROUP BY recount over the dataset's tasks;
 * - a listing reads every row and builds the whole body in memory; a page
 *   of it (`limit`, `offset`) is LIMIT ... OFFSET ...;
 * - a bulk reset is a loop of single-task changes (an UPDATE and a history
 *   INSERT per step) in one transaction, with no roll-up of jobs;
 * - progress is counted the same way, its completions of the last hour by a
 *   scan of the history.
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
// The bulk reset, task by task: each failed (or suspended) task of the filter waits, then is queued, each step a history entry.
const resettable = db.prepare<{ rowid: number; task_id: string; status: string }, [string]>(
  "SELECT rowid, task_id, status FROM tasks WHERE dataset_id = ? AND status IN ('failed', 'suspended')",
)
const setTaskStatus = db.prepare("UPDATE tasks SET doc = json_set(doc, '$.status', ?, '$.status_changed', ?) WHERE task_id = ?")
const hasDepends = db.prepare<{ n: number }, [string]>('SELECT count(*) AS n FROM task_depends WHERE task_id = ?')
const addEntry = db.prepare('INSERT INTO status_history (kind, subject, time, from_status, to_status, username, role, reason_code) VALUES (2, ?, ?, ?, ?, ?, ?, ?)')
const bulkReset = db.transaction((datasetId: string, statuses: string[] | undefined) => {
  let changed = 0
  const time = Date.now() * 1000
  for (const task of resettable.all(datasetId)) {
    if (statuses && !statuses.includes(task.status)) continue
    setTaskStatus.run('waiting', now(), task.task_id)
    addEntry.run(task.rowid, time, TASK_STATUSES.indexOf(task.status), 1, 'bench', 'admin', null)
    if (hasDepends.get(task.task_id)!.n === 0) {
      setTaskStatus.run('queued', now(), task.task_id)
      addEntry.run(task.rowid, time, 1, 2, null, null, 1)
    }
    changed++
  }
  return changed
})
// Progress the straightforward way: recounts, and the completions of the last hour from a scan of the history.
const datasetDoc = db.prepare<{ doc: string; config: string | null }, [string]>('SELECT d.doc, c.doc AS config FROM datasets d LEFT JOIN configs c ON c.dataset_id = d.dataset_id WHERE d.dataset_id = ?')
const completedSince = db.prepare<{ n: number }, [number, string]>(`
  SELECT count(*) AS n FROM status_history h JOIN tasks t ON t.rowid = h.subject
  WHERE h.kind = 2 AND h.to_status = 7 AND h.time > ? AND t.dataset_id = ?`)
function progress(datasetId: string): string {
  const row = datasetDoc.get(datasetId)
  if (!row) return '{"code":404,"error":"no such dataset"}'
  const dataset = JSON.parse(row.doc) as { jobs_submitted: number; tasks_submitted: number }
  const perJob = row.config ? ((JSON.parse(row.config) as { tasks?: unknown[] }).tasks?.length ?? 0) : 0
  const tasks = JSON.parse(inOrder(TASK_STATUSES, taskRecount.all(datasetId))) as Record<string, number>
  const expected = perJob > 0 ? dataset.jobs_submitted * perJob : dataset.tasks_submitted
  const completed = completedSince.get((Date.now() - 3_600_000) * 1000, datasetId)!.n
  const remaining = Math.max(0, expected - (tasks.complete ?? 0))
  const eta = completed > 0 && remaining > 0 ? new Date(Date.now() + (remaining * 3_600_000) / completed).toISOString().replace('Z', '000') : null
  return JSON.stringify({ jobs: JSON.parse(inOrder(JOB_STATUSES, jobRecount.all(datasetId))), tasks, tasks_expected: expected, completed_last_hour: completed, eta })
}
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
    const bulk = path.match(/^\/datasets\/(\w+)\/task_actions\/bulk_reset$/)
    if (request.method === 'POST' && bulk) {
      const body = (await request.json()) as { status?: string[] }
      return json(JSON.stringify({ changed: bulkReset.immediate(bulk[1]!, body.status) }))
    }
    const dataset = path.match(/^\/datasets\/(\w+)\/(tasks|task_counts\/status|job_counts\/status|progress)$/)
    if (request.method === 'GET' && dataset) {
      const [, datasetId, route] = dataset as unknown as [string, string, string]
      if (route === 'progress') return json(progress(datasetId))
      if (route === 'task_counts/status') return json(inOrder(TASK_STATUSES, taskRecount.all(datasetId)))
      if (route === 'job_counts/status') return json(inOrder(JOB_STATUSES, jobRecount.all(datasetId)))
      const limit = url.searchParams.get('limit')
      const rows = limit ? pageOfTasks.all(datasetId, Number(limit), Number(url.searchParams.get('offset') ?? 0)) : allTasks.all(datasetId)
      return json('{' + rows.map((row) => JSON.stringify(row.task_id) + ':' + row.doc).join(',') + '}')
    }
    return json('{"code":404,"error":"not found"}', 404)
  },
})
