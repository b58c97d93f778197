/**
 * Dataset configurations: one JSON object per dataset, stored with its
 * `dataset_id` set so that reads return the stored text as is.
 */
import { writeTx, type Db } from '../../db'
import { fail } from '../../errors'
import type { ConfigModel } from './model'
import { configQueries } from './queries'
import type { Scheduler } from '../scheduler/service'

export type DatasetConfig = typeof ConfigModel.config.static

export class ConfigService {
  private readonly queries

  constructor(
    private readonly db: Db,
    private readonly scheduler: Scheduler,
  ) {
    this.queries = configQueries(db)
  }

  /** The stored config (JSON text, with its dataset_id); 404 when the dataset has none. */
  get(datasetId: string): string {
    return this.queries.doc.get({ dataset_id: datasetId })?.doc ?? fail(404, `no config for dataset ${datasetId}`)
  }

  /**
   * Replaces the dataset's config; 404 when the dataset does not exist. The
   * path's dataset_id replaces one in the config: a config copied from another
   * dataset (the website's View Config page) is stored as it is.
   */
  async put(datasetId: string, config: DatasetConfig): Promise<void> {
    const doc = JSON.stringify({ ...config, dataset_id: datasetId })
    await writeTx(this.db, () => {
      if (!this.queries.datasetExists.get({ dataset_id: datasetId })) fail(404, `dataset ${datasetId} not found`)
      this.scheduler.checkConfig(config)
      this.queries.upsert.run({ dataset_id: datasetId, doc })
      this.scheduler.configChanged(datasetId)
    })
  }
}
