import { t } from 'elysia'
import { Doc, KeysQuery } from '../../http/schema'

export const TaskStatModel = {
  create: Doc({ dataset_id: t.String({ description: "the task's dataset" }) }, 'Any statistics object; stored whole under `stats`'),
  listQuery: t.Object(
    {
      keys: KeysQuery,
      last: t.Optional(t.String({ description: 'true: only the newest task stat' })),
    },
    { additionalProperties: true },
  ),
}
