/**
 * The dashboard's page and its two files. Nothing here is built or read at
 * server start: the bundle is imported at the first request for the page or
 * a file of it.
 */
import { EMPTY_ICON, PAGE_FILE_HEADERS, PAGE_HEADERS } from '../../http/page-headers'
import type { DashboardBundle } from './bundle-macro'

let loading: Promise<DashboardBundle> | undefined
const bundle = () => (loading ??= import('./bundle').then((module) => module.BUNDLE))

/**
 * The path from the page at `pathname` to the server's root, relative (as
 * `../../`), so that the page also works behind a proxy's path prefix: the
 * page's files and the API are found from where the browser is.
 */
export function rootFrom(pathname: string): string {
  const afterUi = pathname.slice(pathname.indexOf('/ui') + 3)
  const depth = afterUi.split('/').length - 1
  return depth === 0 ? './' : '../'.repeat(depth)
}

/** The one HTML page of every view; the script shows the view its address names. */
export async function pageResponse(pathname: string): Promise<Response> {
  const { hash } = await bundle()
  const root = rootFrom(pathname)
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="iceprod-root" content="${root}">
<title>IceProd</title>
${EMPTY_ICON}
<link rel="stylesheet" href="${root}ui/app.css?v=${hash}">
<script type="module" src="${root}ui/app.js?v=${hash}"></script>
</head>
<body>
<noscript>The IceProd dashboard needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`
  return new Response(html, {
    headers: { ...PAGE_HEADERS, 'cache-control': 'no-cache' },
  })
}

/**
 * The script or the styles; 304 when the browser has this build already.
 * At the address the page names (`?v=` this build's hash) the file is kept
 * by the browser for good: an upgraded server's page names another address.
 * At any other it is revalidated on each load.
 */
export async function assetResponse(kind: 'js' | 'css', version: string | null, ifNoneMatch: string | null): Promise<Response> {
  const built = await bundle()
  const etag = `"${built.hash}"`
  const headers = {
    'content-type': kind === 'js' ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
    etag,
    'cache-control': version === built.hash ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...PAGE_FILE_HEADERS,
  }
  if (ifNoneMatch === etag) return new Response(null, { status: 304, headers })
  return new Response(built[kind], { headers })
}
