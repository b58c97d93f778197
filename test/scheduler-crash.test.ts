/**
 * Crash safety of the scheduler (issue 14, point 2): a real server process
 * (the compiled binary) is killed with SIGKILL while it materializes a
 * dataset and while pilots claim, complete and reset its tasks, then started
 * again on the same file. After every restart: no job_index was made twice,
 * every job has all its tasks, no task is left half-way through a change
 * (a reset that did not move on, a ready task still waiting, a queue row out
 * of step), job and dataset statuses are what their tasks and jobs call for,
 * the history chains end at the current statuses, and every maintained count
 * equals a recount. Finally the materialization completes the dataset's jobs.
 */
import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TokenService } from '../src/auth/tokens'
import { TASK_STATUSES } from '../src/status'
import { checkCounts, checkRollUp } from './scheduler-support'
import { startServerProcess, type ServerProcess } from './server-process'
import { TEST_SECRET, copyMigratedDatabase } from './support'

const dir = mkdtempSync(join(tmpdir(), 'iceprod-scheduler-crash-'))
/** The file of the run: a fresh one for each try of the first kill. */
let db = ''
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const JOBS = 1000
const CONFIG = { tasks: [{ name: 'a' }, { name: 'b', depends: ['a'] }] }
const ENV = { ICEPROD_SCHEDULER: 'on', ICEPROD_BUFFER_JOBS: String(JOBS) }

const tokens = new TokenService(TEST_SECRET)
const sign = (role: string) => tokens.sign({ username: role, role, groups: [], type: 'system', ttl: 3600 })

async function call(server: ServerProcess, token: string, method: string, path: string, body?: unknown) {
  const r = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await r.text()
  return { status: r.status, body: text ? JSON.parse(text) : undefined }
}

const jobCount = (sqlite: Database, datasetId: string) => (sqlite.query('SELECT count(*) AS n FROM jobs WHERE dataset_id = ?').get(datasetId) as { n: number }).n

/** Everything a crash must not break, read in one snapshot of the file. */
function checkConsistent(datasetId: string): { jobs: number } {
  const sqlite = new Database(db, { readonly: true })
  try {
    return sqlite.transaction(() => {
      expect(sqlite.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
      const jobs = jobCount(sqlite, datasetId)
      expect(sqlite.query('SELECT count(DISTINCT job_index) AS n FROM jobs WHERE dataset_id = ?').get(datasetId)).toEqual({ n: jobs })
      // Each job made with all of its tasks, each task with its job.
      const perJob = sqlite.query('SELECT count(*) AS jobs, sum(n <> 2) AS incomplete FROM (SELECT count(*) AS n FROM tasks WHERE dataset_id = ? GROUP BY job_id)')
      expect(perJob.get(datasetId)).toEqual({ jobs, incomplete: jobs === 0 ? null : 0 })
      expect(sqlite.query('SELECT count(*) AS n FROM tasks WHERE dataset_id = ?').get(datasetId)).toEqual({ n: 2 * jobs })
      // The cursor is past every job made.
      const cursor = sqlite.query('SELECT next_index AS n FROM materialization WHERE dataset_id = ?').get(datasetId) as { n: number } | null
      const highest = (sqlite.query('SELECT max(job_index) AS n FROM jobs WHERE dataset_id = ?').get(datasetId) as { n: number | null }).n
      if (highest !== null) expect(cursor!.n).toBe(highest + 1)
      // No change left half-way.
      expect(sqlite.query("SELECT count(*) AS n FROM tasks WHERE dataset_id = ? AND status = 'reset'").get(datasetId)).toEqual({ n: 0 })
      const readyButWaiting = sqlite.query(`
        SELECT count(*) AS n FROM tasks t WHERE t.dataset_id = ? AND t.status = 'waiting' AND NOT EXISTS (
          SELECT 1 FROM task_depends d WHERE d.task_id = t.task_id
            AND NOT EXISTS (SELECT 1 FROM tasks p WHERE p.task_id = d.depends_on AND p.status = 'complete'))`)
      expect(readyButWaiting.get(datasetId)).toEqual({ n: 0 })
      // Every task carries an instance_id, from its creation (made in the same insert) or its last claim.
      expect(sqlite.query("SELECT count(*) AS n FROM tasks WHERE dataset_id = ? AND json_extract(doc, '$.instance_id') IS NULL").get(datasetId)).toEqual({ n: 0 })
      // The sweep's list of processing tasks is exactly the processing tasks.
      expect(sqlite.query("SELECT since, task_id FROM processing_since ORDER BY 1, 2").all()).toEqual(
        sqlite.query("SELECT json_extract(doc, '$.status_changed') AS since, task_id FROM tasks WHERE status = 'processing' ORDER BY 1, 2").all(),
      )
      checkRollUp(sqlite, datasetId, JOBS)
      checkCounts(sqlite, datasetId)
      // History chains: each entry starts where the one before ended, the last ends at the current status.
      expect(sqlite.query(`
        SELECT count(*) AS n FROM (SELECT from_status, lag(to_status) OVER (PARTITION BY kind, subject ORDER BY entry) AS before FROM status_history)
        WHERE before IS NOT NULL AND before <> from_status`).get()).toEqual({ n: 0 })
      const lastOff = sqlite.query(`
        SELECT t.status, (SELECT h.to_status FROM status_history h WHERE h.kind = 2 AND h.subject = t.rowid ORDER BY h.entry DESC LIMIT 1) AS last
        FROM tasks t WHERE t.dataset_id = ?`).all(datasetId) as { status: string; last: number | null }[]
      expect(lastOff.filter((row) => row.last !== null && TASK_STATUSES[row.last] !== row.status)).toEqual([])
      return { jobs }
    })()
  } finally {
    sqlite.close()
  }
}

/** Pilots claiming and answering until the server dies under them (`kill`); how many answers were acknowledged. */
function pilots(server: ServerProcess, pilotToken: string, count: number) {
  let acknowledged = 0
  let n = 0
  let killed = false
  const waiting: { past: number; resolve: () => void }[] = []
  const loop = async () => {
    try {
      for (;;) {
        const claimed = await call(server, pilotToken, 'POST', '/task_actions/process', { requirements: { cpu: 1, memory: 2, disk: 20, time: 2, gpu: 0 } })
        if (claimed.status === 404) continue
        if (claimed.status !== 200) throw new Error(`claim answered ${claimed.status}`)
        const { task_id: taskId, instance_id: instanceId } = claimed.body
        const action = n++ % 5 === 0 ? 'reset' : 'complete'
        const r = await call(server, pilotToken, 'POST', `/tasks/${taskId}/task_actions/${action}`, { instance_id: instanceId, reason: 'crash test', time_used: 1 })
        if (r.status !== 200) throw new Error(`${action} answered ${r.status}`)
        acknowledged++
        for (let i = waiting.length - 1; i >= 0; i--) if (acknowledged > waiting[i]!.past) waiting.splice(i, 1)[0]!.resolve()
      }
    } catch (error) {
      // The kill ends every loop with a broken connection; anything else is a failure.
      if (!killed) throw error
    }
  }
  const stopped = Promise.all(Array.from({ length: count }, loop))
  return {
    acknowledged: () => acknowledged,
    /** Resolves once more than `past` answers have been acknowledged; rejects if the loops end first. */
    past(past: number): Promise<void> {
      const reached = new Promise<void>((resolve) => waiting.push({ past, resolve }))
      return Promise.race([reached, stopped.then(() => Promise.reject(new Error(`the pilots stopped after ${acknowledged} answers`)))])
    },
    /** Kills the server with SIGKILL in the middle of the pilots' requests; resolves once every loop has ended. */
    async kill() {
      killed = true
      server.proc.kill('SIGKILL')
      await server.proc.exited
      await stopped
    },
  }
}

/** Waits for the server process to get somewhere (it runs on its own; this is not a clock the test could move). */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(5)
  }
}

test('kill -9 during materialization and transitions, then restart: nothing made twice, nothing lost or half-changed, counts equal a recount', async () => {
  const [admin, pilot] = await Promise.all([sign('admin'), sign('pilot')])
  let server: ServerProcess
  let datasetId = ''
  const jobsNow = async () => {
    const counts = (await call(server, admin, 'GET', `/datasets/${datasetId}/job_counts/status`)).body as Record<string, number>
    return Object.values(counts).reduce((a, b) => a + b, 0)
  }

  // 1. Killed while materializing. The server makes the jobs in some 80 ms,
  // and the kill follows a poll over HTTP: a test process held up that long
  // (a loaded machine) finds every job made, the file sound but the kill not
  // in the middle. Then it tries again on a fresh file, three times at most.
  let afterFirst = 0
  for (let attempt = 1; attempt <= 3; attempt++) {
    db = join(dir, `iceprod-${attempt}.sqlite`)
    // A copy of the migrated database: creating and migrating one is the end-to-end test's.
    copyMigratedDatabase(db)
    server = await startServerProcess(db, ENV)
    expect((await call(server, admin, 'POST', '/groups', { name: '/crash' })).status).toBe(201)
    const created = await call(server, admin, 'POST', '/datasets', { description: 'crash', jobs_submitted: JOBS, tasks_submitted: 2 * JOBS, group: '/crash' })
    datasetId = created.body.result.split('/')[2] as string
    expect((await call(server, admin, 'PUT', `/datasets/${datasetId}/config`, CONFIG)).status).toBe(200)
    await waitFor('the first jobs', async () => (await jobsNow()) > 200)
    server.proc.kill('SIGKILL')
    await server.proc.exited
    afterFirst = checkConsistent(datasetId).jobs
    if (afterFirst < JOBS) break
  }
  expect(afterFirst).toBeGreaterThan(200)
  expect(afterFirst).toBeLessThan(JOBS)

  // 2. and 3. Killed while pilots claim, complete and reset, and materialization goes on.
  let acknowledged = 0
  for (let round = 0; round < 2; round++) {
    server = await startServerProcess(db, ENV)
    const running = pilots(server, pilot, 12)
    await running.past(400)
    await running.kill()
    acknowledged += running.acknowledged()
    checkConsistent(datasetId)
  }
  expect(acknowledged).toBeGreaterThan(800)

  // Started again, the materialization goes on to the last job, making none twice.
  server = await startServerProcess(db, ENV)
  await waitFor('every job', async () => (await jobsNow()) === JOBS)
  server.proc.kill('SIGTERM')
  await server.proc.exited
  expect(checkConsistent(datasetId).jobs).toBe(JOBS)
}, 60_000)
