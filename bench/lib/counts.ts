/** The benchmarks' check of the counts the triggers maintain. */
import type { Database } from 'bun:sqlite'

/** task_counts (of the dataset `datasetId`, or of every dataset) equals a recount of the tasks by status. */
export function countsMatchRecount(sqlite: Database, datasetId?: string): boolean {
  const where = datasetId === undefined ? '' : 'WHERE dataset_id = ?'
  const params = datasetId === undefined ? [] : [datasetId]
  // Summed over datasets, as the recount is when no dataset is named.
  const maintained = sqlite.query(`SELECT status, sum(n) AS n FROM task_counts ${where} GROUP BY status HAVING sum(n) > 0 ORDER BY status`).all(...params)
  const recount = sqlite.query(`SELECT status, count(*) AS n FROM tasks ${where} GROUP BY status ORDER BY status`).all(...params)
  return JSON.stringify(maintained) === JSON.stringify(recount)
}
