/**
 * The OpenAPI document (`/openapi/json`) and its viewer (`/openapi`).
 *
 * @elysiajs/openapi builds the document from the app's routes and their
 * TypeBox schemas; it is loaded at the first request for either route, so
 * that a server nobody reads the document of does not pay for it at start
 * or in memory. The document is built once: the routes do not change after
 * start.
 *
 * The viewer is Swagger UI from the pinned swagger-ui-dist package, embedded
 * in the executable and served from `/openapi/...`: the page works on a head
 * node without internet access, and its Content-Security-Policy lets it load
 * nothing from anywhere else (admin tokens are pasted into it).
 */
import { Elysia } from 'elysia'
import type { AnyElysia } from 'elysia'
// Imported as files: only their paths exist at start (in the executable, paths
// into the files it embeds); the content is read when a browser asks for it.
import swaggerBundle from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' }
import swaggerStyles from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' }
import type { AppContext } from '../../context'
import { EMPTY_ICON, PAGE_FILE_HEADERS, PAGE_HEADERS } from '../../http/page-headers'
import { jsonText } from '../../http/respond'

const DOCUMENTATION = {
  info: { title: 'iceprod-rest', description: 'The IceProd REST API' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ bearer: [] }],
}

/** The viewer page; its URLs are relative to `/openapi`, so that the page also works behind a proxy's path prefix. */
const VIEWER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>iceprod-rest API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
${EMPTY_ICON}
<link rel="stylesheet" href="openapi/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="openapi/swagger-ui-bundle.js"></script>
<script src="openapi/viewer.js"></script>
</body>
</html>
`

/**
 * Starts Swagger UI on the document beside the page. A script of its own, not
 * inline: the policy allows no inline script. No validator badge (it would
 * send the document to swagger.io).
 */
const VIEWER_SCRIPT = `window.ui = SwaggerUIBundle({
  url: 'openapi/json',
  dom_id: '#swagger-ui',
  validatorUrl: null,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`

const ASSET_HEADERS = { ...PAGE_FILE_HEADERS, 'cache-control': 'public, max-age=3600' }

const asset = (body: string | Blob, contentType: string) => new Response(body, { headers: { 'content-type': contentType, ...ASSET_HEADERS } })

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
  const hidden = { access: 'public', detail: { hide: true } } as const
  return new Elysia({ name: 'module:openapi' })
    .use(ctx.access)
    .get('/openapi/json', async () => jsonText(await (document ??= build())), hidden)
    .get('/openapi', () => new Response(VIEWER_PAGE, { headers: PAGE_HEADERS }), hidden)
    .get('/openapi/viewer.js', () => asset(VIEWER_SCRIPT, 'text/javascript; charset=utf-8'), hidden)
    .get('/openapi/swagger-ui-bundle.js', () => asset(Bun.file(swaggerBundle), 'text/javascript; charset=utf-8'), hidden)
    .get('/openapi/swagger-ui.css', () => asset(Bun.file(swaggerStyles), 'text/css; charset=utf-8'), hidden)
}
