/**
 * Runs before the test files, once in each process that runs them.
 *
 * A plain `bun test` runs the files on one worker process per core: it starts
 * itself again as `bun test --parallel` (bunfig.toml has no key for that),
 * with every argument it was given and the files' recorded durations
 * (test/timings.json), so that the slowest files start first. Workers run
 * this file too, and go on. `ICEPROD_TEST_SERIAL=1 bun test` runs every file
 * in this one process, as does a machine of one core or without /proc.
 *
 * The tests' temp folders (their SQLite files, WALs, copies and backups) go
 * to /dev/shm where it is a writable tmpfs, as on Linux: the files are the
 * same, but creating, checkpointing and removing them costs no disk writes or
 * fsyncs. An explicit TMPDIR is kept, and a small /dev/shm (a container's
 * 64 MiB) is not used: the crash tests' files alone take hundreds of megabytes.
 */
import { accessSync, constants, readFileSync, statfsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'

/** The arguments after `bun test`, or undefined when this process is not a plain `bun test`. */
function testArguments(): string[] | undefined {
  try {
    const [, command, ...rest] = readFileSync('/proc/self/cmdline', 'utf8').split('\0')
    return command === 'test' ? rest.slice(0, -1) : undefined
  } catch {
    return undefined
  }
}

function runFilesInParallel(): void {
  if (process.env.BUN_TEST_WORKER_ID !== undefined || process.env.ICEPROD_TEST_SERIAL === '1') return
  const workers = availableParallelism()
  const args = testArguments()
  if (workers < 2 || args === undefined) return
  const timings = join(import.meta.dir, 'timings.json')
  const run = Bun.spawnSync([process.execPath, 'test', `--parallel=${workers}`, '--no-isolate', `--timings=${timings}`, ...args], {
    stdio: ['inherit', 'inherit', 'inherit'],
    env: { ...process.env, ICEPROD_TEST_WORKERS: String(workers) },
  })
  process.exit(run.exitCode ?? 1)
}

runFilesInParallel()

const TMPFS_MAGIC = 0x01021994
const ENOUGH_ROOM = 4 * 1024 ** 3

function writableTmpfs(path: string): boolean {
  try {
    accessSync(path, constants.W_OK)
    const fs = statfsSync(path)
    return fs.type === TMPFS_MAGIC && fs.bavail * fs.bsize >= ENOUGH_ROOM
  } catch {
    return false
  }
}

if (process.env.TMPDIR === undefined && writableTmpfs('/dev/shm')) process.env.TMPDIR = '/dev/shm'
