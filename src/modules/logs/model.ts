import { t } from 'elysia'
import { Doc, KeysQuery } from '../../http/schema'

export const LogModel = {
  create: Doc(
    {
      data: t.String({ description: 'the log text' }),
      dataset_id: t.Optional(t.String()),
      task_id: t.Optional(t.String()),
      name: t.Optional(t.String({ description: 'default "log"' })),
    },
    'A new log; the server sets log_id and timestamp',
  ),
  /** POST /datasets/<d>/logs: the path's dataset_id replaces any in the body, whatever its type. */
  createInDataset: Doc(
    {
      data: t.String({ description: 'the log text' }),
      task_id: t.Optional(t.String()),
      name: t.Optional(t.String({ description: 'default "log"' })),
    },
    "A new log of the dataset; the server sets log_id, timestamp and dataset_id (the path's, whatever the body says)",
  ),
  taskLogsQuery: t.Object(
    {
      num: t.Optional(t.String({ description: 'an integer ≥ 1: at most this many logs' })),
      order: t.Optional(t.String({ description: 'desc (newest first, default) or asc' })),
      group: t.Optional(t.String({ description: 'true: only the newest log of each name' })),
      keys: KeysQuery,
    },
    { additionalProperties: true },
  ),
}
