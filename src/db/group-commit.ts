/**
 * Group commit: writes requested during the same turn of the event loop are
 * applied in one write transaction, each in its own savepoint.
 *
 * A commit costs far more than a small insert (the WAL frames of every page
 * the insert touched are written out), so concurrent creators, e.g. many
 * clients posting tasks at once, share one commit instead of queueing one
 * commit each. Every caller still gets its own result or its own error, a
 * failed write leaves no trace (its savepoint is rolled back), and no caller
 * is answered before the transaction holding its write has committed.
 * While another process holds the write lock, a batch waits for it (see
 * write-lock.ts) and the writes requested meanwhile gather into the next.
 */
import { writeTx, type Db } from './index'

interface Pending<I, O> {
  input: I
  resolve: (output: O) => void
  reject: (error: unknown) => void
}

/** Most writes per transaction, so one batch cannot hold the write lock for long. */
const MAX_BATCH = 256

export class GroupCommit<I, O> {
  private pending: Pending<I, O>[] = []

  /**
   * `write` runs synchronously inside the shared transaction and may throw to
   * refuse its input. With `singleStatement`, the caller promises that `write`
   * modifies the database with at most one statement, run last: SQLite undoes
   * a failed statement by itself (triggers included), so the per-write
   * savepoint, which costs two more statements per write, is left out.
   * `beforeBatch` runs first in each shared transaction, e.g. to drop what
   * the writes of the last one learnt about the database.
   */
  constructor(
    private readonly db: Db,
    private readonly write: (input: I) => O,
    private readonly options: { singleStatement?: boolean; beforeBatch?: () => void } = {},
  ) {}

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ input, resolve, reject })
      if (this.pending.length === 1) setImmediate(() => this.flush())
    })
  }

  private flush(): void {
    const batch = this.pending.splice(0, MAX_BATCH)
    if (batch.length === 0) return
    if (this.pending.length > 0) setImmediate(() => this.flush())
    const outcomes: ({ ok: true; output: O } | { ok: false; error: unknown })[] = []
    writeTx(this.db, () => {
      this.options.beforeBatch?.()
      for (const { input } of batch) {
        try {
          // A nested transaction is a savepoint: a refused write is undone alone.
          const output = this.options.singleStatement ? this.write(input) : this.db.$client.transaction(() => this.write(input))()
          outcomes.push({ ok: true, output })
        } catch (error) {
          // SQLite ended the shared transaction itself (on a full disk it may roll back all of it):
          // the writes before were lost and the ones after would commit alone, so the batch fails whole.
          if (!this.db.$client.inTransaction) throw error
          outcomes.push({ ok: false, error })
        }
      }
    }).then(
      () =>
        batch.forEach(({ resolve, reject }, i) => {
          const outcome = outcomes[i]!
          if (outcome.ok) resolve(outcome.output)
          else reject(outcome.error)
        }),
      // The transaction never began (the lock wait ran out), SQLite rolled it back, or its commit failed: nothing of the batch was written.
      (error) => {
        for (const { reject } of batch) reject(error)
      },
    )
  }
}
