/** The metrics module's queries (see db/query.ts). */
import { count, sql } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { pilots, schedulerChanges, taskCounts } from '../../db/schema'

export function metricsQueries(db: Db) {
  return {
    taskCounts: prepared(db, () => db.select({ dataset_id: taskCounts.datasetId, status: taskCounts.status, n: taskCounts.n }).from(taskCounts)),
    pilotCount: prepared(db, () => db.select({ n: sql<number>`${count()}`.as('n') }).from(pilots)),
    schedulerChanges: prepared(db, () =>
      db
        .select({ kind: schedulerChanges.kind, to_status: schedulerChanges.toStatus, reason_code: schedulerChanges.reasonCode, n: schedulerChanges.n })
        .from(schedulerChanges),
    ),
  }
}
