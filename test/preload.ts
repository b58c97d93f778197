/**
 * Runs before every test file. The tests' temp folders (their SQLite files,
 * WALs, copies and backups) go to /dev/shm where it is a writable tmpfs, as
 * on Linux: the files are the same, but creating, checkpointing and removing
 * them costs no disk writes or fsyncs. An explicit TMPDIR is kept.
 */
import { accessSync, constants, statfsSync } from 'node:fs'

const TMPFS_MAGIC = 0x01021994

function writableTmpfs(path: string): boolean {
  try {
    accessSync(path, constants.W_OK)
    return statfsSync(path).type === TMPFS_MAGIC
  } catch {
    return false
  }
}

if (process.env.TMPDIR === undefined && writableTmpfs('/dev/shm')) process.env.TMPDIR = '/dev/shm'
