/**
 * Dataset configurations: one JSON object per dataset, stored with its
 * `dataset_id` set so that reads return the stored text as is.
 */
import { eq, sql } from 'drizzle-orm'
import { writeTx, type Db } from '../../db'
import { configs, datasets } from '../../db/schema'
import { lazy } from '../../db/lazy'
import { fail } from '../../errors'

const p = sql.placeholder

export class ConfigService {
  private readonly docQuery = lazy(() => this.db.select({ doc: configs.doc }).from(configs).where(eq(configs.datasetId, p('dataset_id'))).prepare())
  private readonly datasetExistsQuery = lazy(() => this.db.select({ id: datasets.datasetId }).from(datasets).where(eq(datasets.datasetId, p('dataset_id'))).prepare())
  private readonly upsertQuery = lazy(() =>
    this.db
      .insert(configs)
      .values({ datasetId: p('dataset_id'), doc: p('doc') })
      .onConflictDoUpdate({ target: configs.datasetId, set: { doc: sql`excluded.doc` } })
      .prepare(),
  )

  constructor(private readonly db: Db) {}

  /** The stored config (JSON text, with its dataset_id); 404 when the dataset has none. */
  get(datasetId: string): string {
    return this.docQuery().get({ dataset_id: datasetId })?.doc ?? fail(404, `no config for dataset ${datasetId}`)
  }

  /**
   * Replaces the dataset's config; 404 when the dataset does not exist. The
   * path's dataset_id replaces one in the config: a config copied from another
   * dataset (the website's View Config page) is stored as it is.
   */
  put(datasetId: string, config: Record<string, unknown>): void {
    const doc = JSON.stringify({ ...config, dataset_id: datasetId })
    writeTx(this.db, () => {
      if (!this.datasetExistsQuery().get({ dataset_id: datasetId })) fail(404, `dataset ${datasetId} not found`)
      this.upsertQuery().run({ dataset_id: datasetId, doc })
    })
  }
}
