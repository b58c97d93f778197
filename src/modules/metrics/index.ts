/**
 * GET /metrics: Prometheus text format. Open to loopback clients that did not
 * come through a proxy; anyone else needs an admin token (401/403 otherwise).
 */
import { Elysia } from 'elysia'
import { authenticate } from '../../auth/access'
import type { AppContext } from '../../context'
import { fail } from '../../errors'
import { forwardedByProxy, isLoopback, type ClientAddresses } from '../../observability/client-address'
import type { Metrics } from '../../observability/metrics'
import type { Bearer } from '../../observability/requests'

const errorBody = {
  'application/json': {
    schema: {
      type: 'object' as const,
      properties: { code: { type: 'integer' as const }, error: { type: 'string' as const } },
      required: ['code', 'error'],
    },
  },
}

export const metricsModule = (ctx: AppContext, metrics: Metrics, clients: ClientAddresses) =>
  new Elysia({ name: 'module:metrics', detail: { tags: ['Service'] } }).use(ctx.access).get(
    '/metrics',
    async (c) => {
      const request = c.request
      if (!isLoopback(clients.of(request)) || forwardedByProxy(request)) {
        const auth = await authenticate(ctx.tokens, request.headers.get('authorization'))
        // Kept on the context so that the request log names the bearer.
        ;(c as unknown as { auth: Bearer }).auth = auth
        if (auth.role !== 'admin') fail(403, 'not allowed')
      }
      const { text, contentType } = await metrics.scrape()
      return new Response(text, { headers: { 'content-type': contentType } })
    },
    {
      // Who may read is decided in the handler (loopback, or an admin token).
      access: 'public',
      detail: {
        summary: 'Prometheus metrics',
        description:
          'Request counts and latency per route template and status, tasks per dataset and status, ' +
          'pilots, database size. Without a token only from a loopback address (and not through a proxy); ' +
          'otherwise an admin token is required.',
        security: [{}, { bearer: [] }],
        responses: {
          200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } },
          401: { description: 'No valid token, from a non-loopback client', content: errorBody },
          403: { description: 'A valid token that is not an admin token', content: errorBody },
        },
      },
    },
  )
