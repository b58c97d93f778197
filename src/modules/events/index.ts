/**
 * `GET /events` (API.md §8): status changes as `text/event-stream`, one
 * `data: <JSON>` line per change (the history entry plus dataset_id, job_id
 * and task_id), for any valid token, over the datasets it may read.
 */
import { Elysia } from 'elysia'
import type { AppContext } from '../../context'
import { EventsModel } from './model'
import type { EventFeed } from './service'

const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  // nginx would otherwise hold events back to fill its buffer.
  'x-accel-buffering': 'no',
}

export const eventsModule = (ctx: AppContext, feed: EventFeed) =>
  new Elysia({ name: 'module:events', detail: { tags: ['Events'] } })
    .use(ctx.access)
    .get('/events', ({ auth, query, request, server }) => {
      const stream = feed.subscribe(auth, query.dataset_id)
      // The stream is quiet between events and keep-alives: no idle timeout for it.
      server?.timeout(request, 0)
      return new Response(stream, { headers: STREAM_HEADERS })
    }, { access: { roles: 'any' }, query: EventsModel.query, detail: { summary: 'status changes as they are committed (text/event-stream)' } })
