import { t } from 'elysia'
import { Doc, KeysQuery, Names } from '../../http/schema'

/** Any JSON object (not an array, not null). */
const AnyObject = (description?: string) => t.Object({}, { additionalProperties: true, description })

/** Keys the server defaults on create, typed wherever they appear. */
const defaultedKeys = {
  tasks: t.Optional(t.Array(t.String(), { description: 'task ids the pilot runs; default []' })),
  host: t.Optional(t.String({ description: 'default ""' })),
  version: t.Optional(t.String({ description: 'default ""' })),
  grid_queue_id: t.Optional(t.String({ description: 'default ""' })),
  available: t.Optional(AnyObject('resources still free; default {}')),
  claimed: t.Optional(AnyObject('resources in use; default {}')),
}

export const PilotModel = {
  create: Doc(
    {
      queue_host: t.String(),
      queue_version: t.String(),
      resources: AnyObject('resources the pilot was submitted with'),
      grid_id: t.Optional(t.String()),
      ...defaultedKeys,
    },
    'A pilot: queue_host, queue_version, resources, optional grid_id, plus any extra keys',
  ),
  patch: Doc({
    queue_host: t.Optional(t.String()),
    queue_version: t.Optional(t.String()),
    resources: t.Optional(AnyObject()),
    grid_id: t.Optional(t.String()),
    ...defaultedKeys,
  }),
  list: t.Object(
    {
      grid_id: t.Optional(t.String({ description: 'only the pilots of this grid' })),
      keys: KeysQuery,
    },
    { additionalProperties: true },
  ),
  /** Other keys are ignored, as by every update body (Elysia's t.Object alone would refuse them). */
  setTasks: Doc({ tasks: Names }),
}
