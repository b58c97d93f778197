import { t } from 'elysia'
import { Doc } from '../../http/schema'

/** Any JSON object (not an array, not null). */
const AnyObject = (description?: string) => t.Object({}, { additionalProperties: true, description })

export const GridModel = {
  create: Doc(
    {
      host: t.String({ description: 'the grid site server host' }),
      queues: AnyObject('the grid queues the site submits pilots to'),
      version: t.String({ description: 'IceProd version of the site server' }),
      debug: t.Optional(t.Boolean({ description: 'default false' })),
    },
    'A grid: host, queues, version, plus any extra keys',
  ),
  /** A PATCH: known keys keep their types; any other key is merged as sent. */
  patch: Doc({
    host: t.Optional(t.String()),
    queues: t.Optional(AnyObject()),
    version: t.Optional(t.String()),
    debug: t.Optional(t.Boolean()),
  }),
}
