/** What the metrics read from the database at a scrape: counts through the module's queries, sizes of the files, room left for writes. */
import { databaseSizes, databaseWriteHealth, type Db } from '../../db'
import type { DatabaseReadings } from '../../observability/metrics'
import { metricsQueries } from './queries'

export function databaseReadings(db: Db, path: string): DatabaseReadings {
  const queries = metricsQueries(db)
  return {
    taskCounts: () => queries.taskCounts.all(),
    pilotCount: () => queries.pilotCount.get()?.n ?? 0,
    sizes: () => databaseSizes(db, path),
    diskFull: () => databaseWriteHealth(db).diskFull(),
    freeBytes: () => databaseWriteHealth(db).freeBytes(),
    schedulerChanges: () => queries.schedulerChanges.all(),
  }
}
