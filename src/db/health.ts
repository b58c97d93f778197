/**
 * Whether the database can take writes, as the writes themselves found it.
 *
 * A write refused for lack of disk space marks the disk full. It stays so
 * until a write commits again, or until the database's filesystem has clearly
 * more room than it had then (FREED_BYTES): /healthz recovers once an
 * operator frees space even when nothing writes meanwhile, as when a load
 * balancer stopped sending traffic to a server its health check failed.
 */
import { statfsSync } from 'node:fs'
import { unavailability } from './faults'

/** Room freed since a write failed for lack of it that counts as the disk being full no longer. */
const FREED_BYTES = 1024 * 1024

export class WriteHealth {
  /** Bytes free on the filesystem when a write last failed for lack of space; undefined while writes succeed. */
  private fullAt: number | undefined

  /** `dir` is the folder of the database file; undefined for an in-memory database. */
  constructor(private readonly dir: string | undefined) {}

  /** A write transaction failed with `error`. */
  failed(error: unknown): void {
    if (unavailability(error) === 'full') this.fullAt ??= this.freeBytes() ?? 0
  }

  /** A write transaction committed. */
  committed(): void {
    this.fullAt = undefined
  }

  /** True while writes are refused for lack of disk space. */
  diskFull(): boolean {
    if (this.fullAt === undefined) return false
    const free = this.freeBytes()
    if (free !== undefined && free >= this.fullAt + FREED_BYTES) this.fullAt = undefined
    return this.fullAt !== undefined
  }

  /** Why writes fail now, for /healthz; undefined when nothing says they do. */
  problem(): string | undefined {
    if (!this.diskFull()) return undefined
    const free = this.freeBytes()
    return `disk full: writes are refused until space is freed on the database's filesystem (${this.dir}${free === undefined ? '' : `, ${free} bytes free`})`
  }

  /** Bytes an unprivileged process may still write on the database's filesystem; undefined when unknown. */
  freeBytes(): number | undefined {
    if (this.dir === undefined) return undefined
    try {
      const fs = statfsSync(this.dir)
      return fs.bavail * fs.bsize
    } catch {
      return undefined
    }
  }
}
