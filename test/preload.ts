/**
 * Runs before every test file. The tests' temp folders (their SQLite files,
 * WALs, copies and backups) go to /dev/shm where it is a writable tmpfs, as
 * on Linux: the files are the same, but creating, checkpointing and removing
 * them costs no disk writes or fsyncs. An explicit TMPDIR is kept, and a
 * small /dev/shm (a container's 64 MiB) is not used: the crash tests' files
 * alone take hundreds of megabytes.
 */
import { accessSync, constants, statfsSync } from 'node:fs'

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
