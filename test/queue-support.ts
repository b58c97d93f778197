/**
 * Fixtures for the task queue tests: datasets, jobs and tasks created through
 * the real API (POST /groups, /datasets, /jobs, /tasks) or, many at once,
 * through the services it calls, and databases seeded once with many of them.
 */
import type { SQLQueryBindings } from 'bun:sqlite'
import { expect } from 'bun:test'
import { createHash } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AppOptions } from '../src/app'
import type { Config } from '../src/config'
import { JobService } from '../src/modules/jobs/service'
import { TaskService } from '../src/modules/tasks/service'
import { keptFileMadeAsync, startTestApp, type TestApp } from './support'

export interface TaskSpec {
  name?: string
  depends?: string[]
  requirements?: Record<string, unknown>
  [extra: string]: unknown
}

export class QueueFixture {
  private group: string | undefined
  private jobIndex = 0
  private taskIndex = 0

  constructor(private readonly t: TestApp) {}

  private async ensureGroup(): Promise<string> {
    if (this.group) return this.group
    const name = `/queue-test-${crypto.randomUUID().slice(0, 8)}`
    const r = await this.t.call('POST', '/groups', { body: { name } })
    expect(r.status).toBe(201)
    this.group = name
    return name
  }

  /** A new dataset (status processing) with the given priority and extra fields; returns its id. */
  async dataset(priority?: number, extra: Record<string, unknown> = {}): Promise<string> {
    const group = await this.ensureGroup()
    const body: Record<string, unknown> = { description: 'queue test', jobs_submitted: 10, tasks_submitted: 10, group, ...extra }
    if (priority !== undefined) body.priority = priority
    const r = await this.t.call('POST', '/datasets', { body })
    expect(r.status).toBe(201)
    return (r.headers.get('location') as string).split('/').pop() as string
  }

  async job(datasetId: string): Promise<string> {
    const r = await this.t.call('POST', '/jobs', { body: { dataset_id: datasetId, job_index: this.jobIndex++ } })
    expect(r.status).toBe(201)
    return r.body.result
  }

  /** A new waiting task in its own job of `datasetId` (or in `jobId`); returns its id. */
  async task(datasetId: string, spec: TaskSpec = {}, jobId?: string): Promise<string> {
    const job = jobId ?? (await this.job(datasetId))
    const { name = 'main', depends = [], requirements = {}, ...extra } = spec
    const body = { dataset_id: datasetId, job_id: job, task_index: this.taskIndex++, name, depends, requirements, ...extra }
    const r = await this.t.call('POST', '/tasks', { body })
    expect(r.status).toBe(201)
    return r.body.result
  }

  /**
   * `n` new jobs of the dataset, in index order, made at once through the
   * job service the route calls: how they are made is not what the tests
   * using it check (`job` makes one through POST /jobs).
   */
  jobs(datasetId: string, n: number): Promise<string[]> {
    const jobs = new JobService(this.t.ctx.db, this.t.ctx.transitions, this.t.ctx.clock)
    return Promise.all(Array.from({ length: n }, () => jobs.create({ dataset_id: datasetId, job_index: this.jobIndex++ })))
  }

  /**
   * `n` new tasks, each in its own job (or all in `jobId`), in creation
   * order; made at once through the services the routes call (in a few group
   * commits rather than 2n requests: how they are made is not what the tests
   * using it check; `task` makes one through POST /tasks).
   */
  async tasks(datasetId: string, n: number, spec: TaskSpec = {}, jobId?: string): Promise<string[]> {
    const { name = 'main', depends = [], requirements = {}, ...extra } = spec
    const tasks = new TaskService(this.t.ctx.db, this.t.ctx.transitions, this.t.ctx.clock)
    const jobs = jobId !== undefined ? Array.from({ length: n }, () => jobId) : await this.jobs(datasetId, n)
    return Promise.all(jobs.map((job) => tasks.create({ dataset_id: datasetId, job_id: job, task_index: this.taskIndex++, name, depends, requirements, ...extra })))
  }

  /** The task document as stored. */
  async get(taskId: string): Promise<Record<string, any>> {
    const r = await this.t.call('GET', `/tasks/${taskId}`)
    expect(r.status).toBe(200)
    return r.body
  }

  async status(taskId: string): Promise<string> {
    return (await this.get(taskId)).status
  }

  /** POST /task_actions/queue as admin; returns the number queued. */
  async queue(body: Record<string, unknown> = {}): Promise<number> {
    const r = await this.t.call('POST', '/task_actions/queue', { body })
    expect(r.status).toBe(200)
    return r.body.queued
  }

  /** POST /task_actions/process as admin; the claimed task id, or undefined on 404. */
  async process(requirements?: Record<string, unknown>): Promise<string | undefined> {
    const r = await this.t.call('POST', '/task_actions/process', { body: requirements === undefined ? {} : { requirements } })
    if (r.status === 404) return undefined
    expect(r.status).toBe(200)
    return r.body.task_id
  }

  /** Drains the queue: every task a pilot with `requirements` would get, in claim order. */
  async processAll(requirements?: Record<string, unknown>): Promise<string[]> {
    const ids: string[] = []
    for (let id = await this.process(requirements); id !== undefined; id = await this.process(requirements)) ids.push(id)
    return ids
  }
}

const shortHash = (hash: ReturnType<typeof createHash>) => hash.digest('hex').slice(0, 16)

/**
 * A test app on a copy of a database that `seed` filled on a test app with
 * the same settings, for a test whose subject is what it does with many
 * rows rather than how they were made. The seeded file is made at the first
 * run and kept in the temp folder for the next ones, under a name of what it
 * was made from (the seed and the settings, then Bun and the sources, the
 * migrations with them): a keptFile, as the migrated template is, which
 * replaces the file of the same seed made from other sources.
 */
export async function startSeededApp(
  seed: (t: TestApp) => Promise<void>,
  overrides: Partial<Config> = {},
  env: Record<string, string> = {},
  options: AppOptions = {},
): Promise<TestApp> {
  const seedKey = shortHash(createHash('sha256').update(`${seed.toString()}\n${JSON.stringify({ overrides, env })}`))
  const sources = createHash('sha256').update(`${Bun.version} ${Bun.revision}\n`)
  for (const file of [...new Bun.Glob('src/**/*').scanSync()].sort()) sources.update(`${file}\n`).update(readFileSync(file))
  const seeded = await keptFileMadeAsync(
    `iceprod-seeded-${seedKey}-${shortHash(sources)}.sqlite`,
    async (made) => {
      const t = await startTestApp({ ...overrides, db: made }, env, options)
      try {
        await seed(t)
      } finally {
        t.close()
      }
    },
    `iceprod-seeded-${seedKey}-`,
  )
  const dir = mkdtempSync(join(tmpdir(), 'iceprod-seeded-copy-'))
  const db = join(dir, 'iceprod.sqlite')
  copyFileSync(seeded, db)
  const t = await startTestApp({ ...overrides, db }, env, options)
  return {
    ...t,
    close() {
      t.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Puts an app's database back as it was when this was called: every table
 * emptied, or holding again the rows it held (those the migrations wrote).
 * For the tests of a file that each start from an empty database on one app:
 * a new app's start and first requests cost more than most of them.
 */
export function databaseRestorer(t: TestApp): () => void {
  const sqlite = t.ctx.sqlite
  const tables = (sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map(({ name }) => {
    // Generated columns are left out: SQLite computes them again.
    const columns = (sqlite.query('SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0').all(name) as { name: string }[]).map((column) => `"${column.name}"`)
    const rows = sqlite.query(`SELECT ${columns.join(', ')} FROM "${name}"`).values() as SQLQueryBindings[][]
    return { name, insert: `INSERT INTO "${name}" (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, rows }
  })
  return sqlite.transaction(() => {
    for (const { name, insert, rows } of tables) {
      sqlite.run(`DELETE FROM "${name}"`)
      for (const row of rows) sqlite.run(insert, row)
    }
  })
}
