/**
 * A bulk action is one transaction (API.md §7.2): a real server process (the
 * compiled binary) killed with SIGKILL at any moment of a bulk reset leaves
 * all of it or nothing, and a restart then does all of it.
 *
 * The reset is a sequence of statements: the stopped jobs reopened with their
 * history entries, the one UPDATE of the selected tasks, the counts, the
 * tasks' history entries, the roll-up of the jobs and the dataset. Each of
 * them is atomic on its own, so a kill inside the one big UPDATE shows
 * nothing whether or not they share a transaction: the kills are spread over
 * the whole action. A first run on a copy of the same file measures the
 * complete action: the CPU time the server's main thread (where every
 * statement runs) spends on it, and the WAL it writes. A second run, on a
 * fresh copy, passes the kill points (KILL_POINTS, each a share of one of
 * them) in order. At each but the last the process is stopped (SIGSTOP) and
 * the database's files are copied as they are: a stopped process writes
 * nothing more, so the copy holds exactly what a SIGKILL at that moment
 * would leave; then it goes on (SIGCONT). At the last it is killed with
 * SIGKILL. The run is checked to have ended before the commit was whole (no
 * answer, each file's WAL short of the complete action's). With the
 * statements each in a transaction of its own (the action's writeTx taken
 * away) the later kill points find the jobs reopened with their entries,
 * `bulk_update` holding its row and the tasks not reset, or the tasks reset
 * without their queued entries or the dataset's roll-up.
 *
 * After each kill the file is sound and holds none of the reset: every task
 * failed without history entries, its job in errors, the dataset in errors,
 * `bulk_update` empty, every maintained count equal to a recount, the queue
 * equal to the queued tasks. After the restart's reset: every task queued
 * with its two entries, every job and the dataset processing.
 */
import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closeDatabase, openDatabase } from '../src/db'
import { newId, timestamp } from '../src/db/documents'
import { embeddedMigrations } from '../src/db/migrator'
import { KIND_CODES } from '../src/modules/history/queries'
import { reasonCode } from '../src/modules/history/reasons'
import { DATASET_STATUSES, TASK_STATUSES } from '../src/status'
import { checkCounts, checkRollUp } from './scheduler-support'
import { keptFile } from './support'
import { startServerProcess, type ServerProcess } from './server-process'

const dir = mkdtempSync(join(tmpdir(), 'iceprod-actions-crash-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Jobs of a failed generate and a filter waiting for it: a reset of 10,000 tasks, about 0.3 s of work. */
const JOBS = 10_000

/**
 * Where the kills come, as shares of what the complete action takes: the
 * first by its main-thread CPU time (nothing reaches the WAL before the
 * tasks' UPDATE), the others by the WAL it writes, which is the same for
 * every copy but for a few pages. The transaction's pages stay in the page
 * cache until it fills, in the tasks' UPDATE; from then on they spill into
 * the WAL, and the commit writes the rest. Traced statement by statement
 * (the WAL's size after each, in shares of the complete action's): the
 * jobs reopened with their history entries, 0; the tasks' UPDATE, up to
 * 0.305; the counts, 0.33; the tasks' history entries, 0.35; the roll-up's
 * downstream jobs, 0.37; the roll-up of the jobs and the dataset, 0.37; the
 * commit, 1.
 */
const KILL_POINTS = {
  'reopening the jobs': { cpu: 0.12 },
  'in the tasks\' UPDATE': { wal: 0.15 },
  'writing the tasks\' history': { wal: 0.34 },
  'rolling up': { wal: 0.36 },
} as const

/** A dataset in errors: each job's generate failed, its filter waits for it. Written through the real schema and its triggers. */
function seedInto(path: string): void {
  const { sqlite } = openDatabase(path)
  const datasetId = newId()
  const now = timestamp()
  sqlite.transaction(() => {
    sqlite.run("UPDATE sequences SET value = 1 WHERE name = 'dataset'")
    sqlite.run('INSERT INTO datasets (dataset_id, doc) VALUES (?, ?)', [datasetId, JSON.stringify({ dataset_id: datasetId, dataset: 1, description: 'crash', jobs_submitted: JOBS, tasks_submitted: 2 * JOBS, group: '/crash', priority: 0, debug: false, status: 'errors', start_date: now, username: 'admin' })])
    const job = sqlite.prepare('INSERT INTO jobs (job_id, doc) VALUES (?, ?)')
    const task = sqlite.prepare('INSERT INTO tasks (task_id, doc) VALUES (?, ?)')
    for (let j = 0; j < JOBS; j++) {
      const jobId = newId()
      job.run(jobId, JSON.stringify({ job_id: jobId, dataset_id: datasetId, job_index: j, status: 'errors', status_changed: now }))
      const generate = newId()
      const common = { dataset_id: datasetId, job_id: jobId, job_index: j, requirements: { cpu: 1 }, status_changed: now, evictions: 0, walltime: 0, walltime_err: 0, walltime_err_n: 0 }
      task.run(generate, JSON.stringify({ ...common, task_id: generate, task_index: 0, name: 'generate', depends: [], status: 'failed', failures: 11 }))
      const filter = newId()
      task.run(filter, JSON.stringify({ ...common, task_id: filter, task_index: 1, name: 'filter', depends: [generate], status: 'waiting', failures: 0 }))
    }
    // The roll-up stopped the dataset (so that a job processing again reopens it).
    sqlite.run('INSERT INTO status_history (kind, subject, time, from_status, to_status, reason_code) SELECT 0, rowid, 0, ?, ?, ? FROM datasets', [
      DATASET_STATUSES.indexOf('processing'), DATASET_STATUSES.indexOf('errors'), reasonCode('jobs have errors, none processing'),
    ])
  })()
  // Checkpointed and closed: the copies are one file each, alike.
  closeDatabase(sqlite)
}

/**
 * The seeded file and its dataset, made once per schema and seed and kept in
 * the temp folder for later runs (a keptFile, as the migrated template is):
 * writing its 30,000 rows through the triggers is a tenth of the test. It is
 * checked to hold none of the reset when it is made, and kept only then; the
 * key names the checks too, so that a file is made and checked again
 * whenever they change, replacing the one made before.
 */
function seededFile(): { path: string; datasetId: string } {
  const checks = [seedInto, stateOf, expectState, checkCounts, checkRollUp].join('\n')
  const key = createHash('sha256').update(embeddedMigrations().map((m) => m.hash).join()).update(`${JOBS}\n${checks}\n${JSON.stringify(NOTHING)}`).digest('hex').slice(0, 16)
  const path = keptFile(
    `iceprod-actions-crash-seeded-${key}.sqlite`,
    (made) => {
      seedInto(made)
      expectState(made, datasetOf(made), NOTHING, 'seeded')
    },
    'iceprod-actions-crash-seeded-',
  )
  return { path, datasetId: datasetOf(path) }
}

/** The id of the one dataset of the file. */
function datasetOf(path: string): string {
  const sqlite = new Database(path, { readonly: true })
  try {
    return (sqlite.query('SELECT dataset_id FROM datasets').get() as { dataset_id: string }).dataset_id
  } finally {
    sqlite.close()
  }
}

let copies = 0
/** A fresh copy of the seeded file. */
function copyOfSeeded(seeded: string): string {
  const path = join(dir, `run-${copies++}.sqlite`)
  copyFileSync(seeded, path)
  return path
}

const walBytes = (db: string) => statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0

/** `ms` milliseconds asleep, the thread blocked (Bun.sleepSync does not sleep less than a millisecond). */
const pause = ((cell) => (ms: number) => void Atomics.wait(cell, 0, 0, ms))(new Int32Array(new SharedArrayBuffer(4)))
/** The shortest pause of the watch: a tenth of a millisecond. */
const NEAR_PAUSE_MS = 0.1
/** The pause while the kill point is still far, by CPU time no thread can run faster than the clock, or by WAL more than FAR_WAL_SHARE away. */
const FAR_PAUSE_MS = 1
/** A WAL kill point this share of the complete action's WAL away is far. */
const FAR_WAL_SHARE = 0.05

/** Nanoseconds the process's main thread has run on a CPU (/proc/<pid>/schedstat): there bun:sqlite runs every statement. */
const mainThreadCpu = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0])

/** Whether every thread of the process is stopped (state T in /proc/<pid>/task/<tid>/stat, after the parenthesized name). */
const allStopped = (pid: number) =>
  readdirSync(`/proc/${pid}/task`).every((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T'
  })

/** SQLite's files of a database in WAL mode, beside its main file. */
const SIDE_FILES = ['-wal', '-shm']

/** Copies the database's files at `from` (main, WAL, WAL index) to `to`, as they are. */
function copyDatabaseFiles(from: string, to: string): void {
  copyFileSync(from, to)
  for (const side of SIDE_FILES) if (existsSync(from + side)) copyFileSync(from + side, to + side)
}

const TASK = KIND_CODES.task
const status = (name: string) => TASK_STATUSES.indexOf(name as (typeof TASK_STATUSES)[number])

/**
 * What of the reset the sound file holds, read in one snapshot, each part
 * on its own (so that a partial reset shows which parts it holds), and the
 * tasks by their status and chain of history entries (each untouched, or
 * reset with both entries).
 */
function stateOf(sqlite: Database) {
  return sqlite.transaction(() => {
    expect(sqlite.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
    const one = (sql: string, ...values: (string | number)[]) => (sqlite.query(sql).get(...values) as { n: number }).n
    // Per task: its status and its entries, as all of the reset or none of it.
    const perTask = sqlite
      .query(
        `SELECT status || ': ' || coalesce(chain, 'no entries') AS shape, count(*) AS n FROM (
           SELECT t.status, (SELECT group_concat(h.from_status || '>' || h.to_status, ' ' ORDER BY h.rowid) FROM status_history h WHERE h.kind = ${TASK} AND h.subject = t.rowid) AS chain
           FROM tasks t WHERE t.name = 'generate')
         GROUP BY status, chain`,
      )
      .all() as { shape: string; n: number }[]
    const state = {
      jobsProcessing: one("SELECT count(*) AS n FROM jobs WHERE status = 'processing'"),
      jobEntries: one(`SELECT count(*) AS n FROM status_history WHERE kind = ${KIND_CODES.job}`),
      tasksReset: one("SELECT count(*) AS n FROM tasks WHERE name = 'generate' AND status <> 'failed'"),
      resetEntries: one(`SELECT count(*) AS n FROM status_history WHERE kind = ${TASK} AND from_status = ? AND to_status = ?`, status('failed'), status('waiting')),
      queuedEntries: one(`SELECT count(*) AS n FROM status_history WHERE kind = ${TASK} AND from_status = ? AND to_status = ?`, status('waiting'), status('queued')),
      queueRows: one('SELECT count(*) AS n FROM task_queue'),
      dataset: (sqlite.query('SELECT status FROM datasets').get() as { status: string }).status,
      bulkUpdateRows: one('SELECT count(*) AS n FROM bulk_update'),
      perTask,
    }
    return state
  })()
}

/** The file before the reset, as it is after any kill. */
const NOTHING = {
  jobsProcessing: 0, jobEntries: 0, tasksReset: 0, resetEntries: 0, queuedEntries: 0, queueRows: 0, dataset: 'errors', bulkUpdateRows: 0,
  perTask: [{ shape: 'failed: no entries', n: JOBS }],
}
/** The file after the reset, done whole. */
const ALL = {
  jobsProcessing: JOBS, jobEntries: JOBS, tasksReset: JOBS, resetEntries: JOBS, queuedEntries: JOBS, queueRows: JOBS, dataset: 'processing', bulkUpdateRows: 0,
  perTask: [{ shape: `queued: ${status('failed')}>${status('waiting')} ${status('waiting')}>${status('queued')}`, n: JOBS }],
}

function expectState(db: string, datasetId: string, expected: typeof NOTHING, label: string): void {
  // One connection: each new one on a file a kill left reads its whole WAL again to recover it.
  const sqlite = new Database(db, { readonly: true })
  try {
    // Compared before the counts are checked, so that a failure shows which parts of the reset are there.
    expect({ at: label, ...stateOf(sqlite) }).toEqual({ at: label, ...expected })
    sqlite.transaction(() => (checkCounts(sqlite, datasetId), checkRollUp(sqlite, datasetId, JOBS)))()
  } finally {
    sqlite.close()
  }
}

interface Run {
  /** Main-thread CPU nanoseconds from the request to the answer, or to the kill. */
  cpu: number
  /** Bytes the WAL grew by meanwhile. */
  wal: number
  answered: number | 'killed'
}

/** When to kill: once the main thread has spent `cpu` nanoseconds on the reset, or the WAL has grown by `wal` bytes. */
type KillPoint = { cpu: number } | { wal: number }

/** What a kill at a kill point leaves: the database's files, and how far the action had come. */
interface Killed {
  point: string
  db: string
  /** Main-thread CPU nanoseconds from the request to the kill point. */
  cpu: number
  /** Bytes the WAL grew by until then. */
  wal: number
}

/** A server on `db` with an admin token, started before its run: starts overlap each other and the checks of other runs. */
interface Started {
  db: string
  server: ServerProcess
  token: string
}

const servers: ServerProcess[] = []
afterAll(async () => {
  for (const { proc } of servers) proc.kill('SIGKILL')
  await Promise.all(servers.map(({ proc }) => proc.exited))
})

async function startOn(db: string): Promise<Started> {
  const server = await startServerProcess(db)
  servers.push(server)
  return { db, server, token: await server.token('admin') }
}

/** Asks `started`'s server for the reset; the request is sent before the first await, so that the caller may check other files while the server works. */
function askReset({ server, token }: Started, datasetId: string): { answer: Promise<number | 'killed'>; answered: () => number | 'killed' | undefined } {
  let answered: number | 'killed' | undefined
  const answer = fetch(`${server.url}/datasets/${datasetId}/task_actions/bulk_reset`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' })
    .then(async (r) => ((await r.json()) as { changed: number }).changed, () => 'killed' as const)
    .then((value) => (answered = value))
  return { answer, answered: () => answered }
}

/** `started`'s server asked for the reset and left to answer; killed with SIGKILL once it has. */
async function resetRun(started: Started, datasetId: string): Promise<Run> {
  const pid = started.server.proc.pid
  const wal0 = walBytes(started.db)
  const cpu0 = mainThreadCpu(pid)
  const { answer } = askReset(started, datasetId)
  const answered = await answer
  const run = { cpu: mainThreadCpu(pid) - cpu0, wal: walBytes(started.db) - wal0, answered }
  started.server.proc.kill('SIGKILL')
  await started.server.proc.exited
  return run
}

/**
 * `started`'s server asked for the reset and taken through `points` in
 * order (each before the WAL reaches `fullWal`, the complete action's): at
 * each but the last stopped, its database's files copied as a kill there
 * would leave them, and let go on; killed with SIGKILL at the last, where
 * its own files are what the kill leaves.
 */
async function killRun(started: Started, datasetId: string, points: [string, KillPoint][], fullWal: number): Promise<{ killed: Killed[]; answered: number | 'killed' }> {
  const { db, server } = started
  const pid = server.proc.pid
  const wal0 = walBytes(db)
  const cpu0 = mainThreadCpu(pid)
  const { answer } = askReset(started, datasetId)
  const killed: Killed[] = []
  for (const [index, [point, kill]] of points.entries()) {
    // Watched without yielding to the event loop (a timer's wake-up can come tens of milliseconds late on a busy
    // machine, past a step), in pauses that leave the CPU to the server and the tests beside it.
    for (const deadline = Date.now() + 30_000; ; ) {
      const wal = walBytes(db) - wal0
      if (wal >= fullWal) throw new Error(`committed before the kill point ${point} (${JSON.stringify(kill)})`)
      if (Date.now() > deadline) throw new Error(`the kill point ${point} (${JSON.stringify(kill)}) not reached in 30 s`)
      // Nanoseconds of CPU, or bytes of WAL, still to go.
      const left = 'cpu' in kill ? kill.cpu - (mainThreadCpu(pid) - cpu0) : kill.wal - wal
      if (left <= 0) break
      const far = 'cpu' in kill ? left / 1e6 : left > FAR_WAL_SHARE * fullWal ? FAR_PAUSE_MS : 0
      pause(Math.min(FAR_PAUSE_MS, Math.max(NEAR_PAUSE_MS, far)))
    }
    const last = index === points.length - 1
    server.proc.kill(last ? 'SIGKILL' : 'SIGSTOP')
    if (last) {
      killed.push({ point, db, cpu: mainThreadCpu(pid) - cpu0, wal: walBytes(db) - wal0 })
      break
    }
    for (const deadline = Date.now() + 10_000; !allStopped(pid); pause(NEAR_PAUSE_MS)) {
      if (Date.now() > deadline) throw new Error(`the server did not stop at the kill point ${point}`)
    }
    const image = join(dir, `killed-${killed.length}.sqlite`)
    copyDatabaseFiles(db, image)
    killed.push({ point, db: image, cpu: mainThreadCpu(pid) - cpu0, wal: walBytes(db) - wal0 })
    server.proc.kill('SIGCONT')
  }
  await server.proc.exited
  return { killed, answered: await answer }
}

test('kill -9 at any step of a bulk reset of 10,000 tasks leaves all or nothing; after a restart it is done whole', async () => {
  const { path: seeded, datasetId } = seededFile()
  // A server for the complete action and one for the kills, each on its own copy.
  const [calibration, toKill] = await Promise.all([startOn(copyOfSeeded(seeded)), startOn(copyOfSeeded(seeded))])

  // The complete action: how much CPU and WAL it takes.
  const full = await resetRun(calibration!, datasetId)
  expect(full.answered).toBe(JOBS)

  const points = Object.entries(KILL_POINTS).map(([point, share]): [string, KillPoint] => [point, 'cpu' in share ? { cpu: share.cpu * full.cpu } : { wal: share.wal * full.wal }])
  const { killed, answered } = await killRun(toKill!, datasetId, points, full.wal)
  // Before the commit: no answer, and the WAL short of the complete action's at every kill point.
  expect({ answered, beforeCommit: killed.map(({ point, wal }) => ({ point, before: wal < full.wal })) }).toEqual({
    answered: 'killed',
    beforeCommit: points.map(([point]) => ({ point, before: true })),
  })
  const expectNothing = ({ point, db, cpu, wal }: Killed) =>
    expectState(db, datasetId, NOTHING, `killed ${point} (${Math.round((100 * cpu) / full.cpu)} % of the CPU, WAL ${wal} of ${full.wal} bytes)`)

  // The last killed file, checked, then restarted and reset whole; the completely reset file and the other killed files are checked meanwhile.
  const last = killed[killed.length - 1]!
  expectNothing(last)
  const again = resetRun(await startOn(last.db), datasetId)
  expectState(calibration!.db, datasetId, ALL, 'complete')
  killed.slice(0, -1).forEach(expectNothing)
  expect((await again).answered).toBe(JOBS)
  expectState(last.db, datasetId, ALL, 'reset after a restart')
}, 120_000)
