import { Doc } from '../../http/schema'

export const ConfigModel = {
  /** A dataset's configuration: any JSON object, stored and returned as sent. */
  config: Doc({}, "The dataset's whole configuration (any JSON object); a dataset_id in it is replaced by the dataset's"),
}
