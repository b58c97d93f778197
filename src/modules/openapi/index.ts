/**
 * The OpenAPI document (`/openapi/json`) and its viewer (`/openapi`).
 *
 * @elysiajs/openapi builds the document from the app's routes and their
 * TypeBox schemas; it is loaded at the first request for either route, so
 * that a server nobody reads the document of does not pay for it at start
 * or in memory. The document is built once: the routes do not change after
 * start.
 */
import { Elysia } from 'elysia'
import type { AnyElysia } from 'elysia'
import type { AppContext } from '../../context'
import { jsonText } from '../../http/respond'

const DOCUMENTATION = {
  info: { title: 'iceprod-rest', description: 'The IceProd REST API' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ bearer: [] }],
}

/** The viewer page: Scalar's API reference, loaded from its CDN, reading the document beside it. */
const VIEWER = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>iceprod-rest API</title><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<script id="api-reference" data-url="openapi/json"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@latest/dist/browser/standalone.min.js"></script>
</body>
</html>
`

/** `app` returns the whole application, whose routes the document describes. */
export const openapiModule = (ctx: AppContext, app: () => AnyElysia, version: string) => {
  let document: Promise<string> | undefined
  const build = async () => {
    const { toOpenAPISchema } = await import('@elysiajs/openapi')
    const { paths, components } = toOpenAPISchema(app())
    return JSON.stringify({
      openapi: '3.1.2',
      ...DOCUMENTATION,
      info: { ...DOCUMENTATION.info, version },
      paths,
      components: { ...DOCUMENTATION.components, schemas: components.schemas },
    })
  }
  return new Elysia({ name: 'module:openapi' })
    .use(ctx.access)
    .get('/openapi/json', async () => jsonText(await (document ??= build())), { access: 'public', detail: { hide: true } })
    .get('/openapi', () => new Response(VIEWER, { headers: { 'content-type': 'text/html; charset=utf-8' } }), {
      access: 'public',
      detail: { hide: true },
    })
}
