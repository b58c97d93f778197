/**
 * The headers of the HTML pages the server serves itself (the dashboard at
 * /ui, the API viewer at /openapi). Both load their scripts and styles from
 * this server and talk only to it (fetch, the event stream): no inline script
 * or style, no frames, no plugins, no forms posted anywhere (sign-in is a
 * fetch), no <base>; images only from this server or as data: URIs (inside
 * Swagger UI's stylesheet).
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** What every file of those pages is sent with: no guessing of content types, no addresses leaked to other sites. */
export const PAGE_FILE_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' } as const

export const PAGE_HEADERS = { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_CSP, ...PAGE_FILE_HEADERS } as const

/** The icon both pages name: empty and inline, so that no browser asks for a /favicon.ico the server does not have. */
export const EMPTY_ICON = '<link rel="icon" href="data:,">'
