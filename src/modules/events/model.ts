import { t } from 'elysia'

export const EventsModel = {
  query: t.Object({ dataset_id: t.Optional(t.String({ description: 'only the events of this dataset (403 if the token may not read it)' })) }, { additionalProperties: true }),
}
