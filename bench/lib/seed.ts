/**
 * Benchmark databases: seeded through the real schema (the real tables and
 * triggers), cached between runs, and copied for each server run.
 */
import type { Database } from 'bun:sqlite'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase, closeDatabase } from '../../src/db'
import { newId, timestamp } from '../../src/db/documents'
import { copyFlushed } from '../../src/ops/backup'

/** A fresh folder under the system's temporary folder, and its removal. */
export function tempDir(name: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `iceprod-bench-${name}-`))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface SeedOptions {
  datasets: number
  jobsPerDataset: number
  tasksPerJob: number
  /** Status of each task, by its overall index. */
  status?: (i: number) => string
  requirements?: (i: number) => Record<string, unknown>
  /** Each task carries an instance_id from its creation, as a server with the scheduler on makes it. */
  birthInstanceIds?: boolean
}

export interface Seeded {
  datasetIds: string[]
  taskIds: string[]
}

/** Fills a new database with datasets, jobs and tasks shaped like the API writes them. */
export function seed(dbPath: string, options: SeedOptions): Seeded {
  const { sqlite } = openDatabase(dbPath)
  const datasetIds: string[] = []
  const taskIds: string[] = []
  const now = timestamp()
  const insertDataset = sqlite.prepare('INSERT INTO datasets (dataset_id, doc) VALUES (?, ?)')
  const insertRule = sqlite.prepare('INSERT INTO auths (dataset_id, doc) VALUES (?, ?)')
  const insertJob = sqlite.prepare('INSERT INTO jobs (job_id, doc) VALUES (?, ?)')
  const insertTask = sqlite.prepare('INSERT INTO tasks (task_id, doc) VALUES (?, ?)')
  let i = 0
  for (let d = 0; d < options.datasets; d++) {
    sqlite.transaction(() => {
      const datasetId = newId()
      datasetIds.push(datasetId)
      const dataset = d + 1
      sqlite.run("UPDATE sequences SET value = ? WHERE name = 'dataset'", [dataset])
      insertDataset.run(datasetId, JSON.stringify({ dataset_id: datasetId, dataset, description: 'bench', jobs_submitted: options.jobsPerDataset, tasks_submitted: options.jobsPerDataset * options.tasksPerJob, group: '/bench', priority: 0, debug: false, status: 'processing', start_date: now, username: 'bench' }))
      insertRule.run(datasetId, JSON.stringify({ read_groups: ['/bench'], write_groups: ['/bench'] }))
      for (let j = 0; j < options.jobsPerDataset; j++) {
        const jobId = newId()
        insertJob.run(jobId, JSON.stringify({ job_id: jobId, dataset_id: datasetId, job_index: j, status: 'processing', status_changed: now }))
        for (let k = 0; k < options.tasksPerJob; k++, i++) {
          const taskId = newId()
          taskIds.push(taskId)
          insertTask.run(taskId, JSON.stringify({
            task_id: taskId, dataset_id: datasetId, job_id: jobId, job_index: j, task_index: k, name: k === 0 ? 'generate' : 'filter',
            depends: [], requirements: options.requirements?.(i) ?? { cpu: 1, memory: 1.5 },
            status: options.status?.(i) ?? 'waiting', status_changed: now, failures: 0, evictions: 0, walltime: 0, walltime_err: 0, walltime_err_n: 0,
            ...(options.birthInstanceIds ? { instance_id: newId() } : {}),
          }))
        }
      }
    })()
  }
  closeDatabase(sqlite)
  return { datasetIds, taskIds }
}

/** Where seeded databases are kept between runs (they take tens of seconds to build). */
const SEED_CACHE_DIR = join(tmpdir(), 'iceprod-bench-cache')

export interface CachedSeed extends Seeded {
  /** The seeded database file; never serve it directly, copy it (see copyDatabase). */
  path: string
  /** True when this call built it, false when it was reused. */
  built: boolean
}

/**
 * A database seeded with `options` (then changed by `finish`, run once on the
 * open database), built once and reused: the cache key covers the options,
 * the source of their functions and of `finish`, and the migrations, so a
 * schema change or a different shape seeds a new file.
 */
export function seedCached(name: string, options: SeedOptions, finish?: (sqlite: Database) => void): CachedSeed {
  const migrationsDir = join(import.meta.dir, '..', '..', 'migrations')
  const hasher = new Bun.CryptoHasher('sha256')
  hasher.update(JSON.stringify(options, (_key, value) => (typeof value === 'function' ? String(value) : value)))
  hasher.update(String(finish ?? ''))
  hasher.update(String(seed))
  for (const file of readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort()) hasher.update(readFileSync(join(migrationsDir, file)))
  const key = `${name}-${hasher.digest('hex').slice(0, 16)}`
  mkdirSync(SEED_CACHE_DIR, { recursive: true })
  const path = join(SEED_CACHE_DIR, `${key}.sqlite`)
  const idsPath = join(SEED_CACHE_DIR, `${key}.json`)
  if (existsSync(path) && existsSync(idsPath)) {
    return { path, built: false, ...(JSON.parse(readFileSync(idsPath, 'utf8')) as Seeded) }
  }
  // Built under a temporary name, so an interrupted seed is never mistaken for a finished one.
  const building = `${path}.building-${process.pid}`
  const started = performance.now()
  const seeded = seed(building, options)
  if (finish) {
    const { sqlite } = openDatabase(building)
    finish(sqlite)
    closeDatabase(sqlite)
  }
  writeFileSync(idsPath, JSON.stringify(seeded))
  renameSync(building, path)
  console.log(`seeded ${seeded.taskIds.length} tasks into ${path} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  return { path, built: true, ...seeded }
}

/**
 * A private copy of a (closed, checkpointed) database file in `dir`, flushed
 * to disk before it is handed over. Unflushed, the copy's pages (800 MB for
 * the 1M-task database) wait in the page cache, and the server's first
 * checkpoint fsync has to write them all out: that made the claims' p99 200
 * to 550 ms, a stall of the benchmark's making that no server sees.
 */
export function copyDatabase(source: string, dir: string, name = 'iceprod.sqlite'): string {
  const target = join(dir, name)
  removeDatabase(target)
  copyFlushed(source, target)
  return target
}

/** Removes a database file and its WAL and shared-memory files. */
export function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
}
