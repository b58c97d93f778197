/**
 * The dashboard (API.md §9): one page at every view's address, and its
 * script and styles, embedded in the executable. The page itself is public;
 * everything it shows comes from the API with the token the user signs in with.
 */
import { Elysia } from 'elysia'
import type { AppContext } from '../../context'
import { refuseUnroutableParams } from '../../http/path-params'
import { assetResponse, pageResponse } from './service'

const hidden = { access: 'public', detail: { hide: true } } as const

export const uiModule = (ctx: AppContext) => {
  const page = ({ request, params }: { request: Request; params?: Record<string, string> }) => {
    // As on every route: a parameter outside [A-Za-z0-9_] matches no route.
    if (params) refuseUnroutableParams(params)
    return pageResponse(new URL(request.url).pathname)
  }
  return new Elysia({ name: 'module:ui' })
    .use(ctx.access)
    // The datasets' view; the router answers /ui here too, sent on to /ui/ so that each view has one address.
    .get('/ui/', ({ request }) => (new URL(request.url).pathname.endsWith('/') ? page({ request }) : new Response(null, { status: 308, headers: { location: 'ui/' } })), hidden)
    .get('/ui/grids', page, hidden)
    .get('/ui/datasets/:dataset_id', page, hidden)
    .get('/ui/datasets/:dataset_id/tasks/:task_id', page, hidden)
    .get('/ui/app.js', ({ request }) => assetResponse('js', new URL(request.url).searchParams.get('v'), request.headers.get('if-none-match')), hidden)
    .get('/ui/app.css', ({ request }) => assetResponse('css', new URL(request.url).searchParams.get('v'), request.headers.get('if-none-match')), hidden)
}
