/**
 * The API as the page calls it: the server root (relative to the page, so
 * that a proxy's path prefix works), the token from sessionStorage in the
 * Authorization header (never a cookie), and errors as ApiError.
 */
const TOKEN_KEY = 'iceprod-token'

/** The server's root URL, from the page's `iceprod-root` meta tag (a path relative to the page). */
export const ROOT = new URL(document.querySelector<HTMLMetaElement>('meta[name="iceprod-root"]')?.content ?? '/', location.href)

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export interface Claims {
  username: string
  role: string
  groups: string[]
  exp?: number
}

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn(token: string) {
    sessionStorage.setItem(TOKEN_KEY, token)
  },
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY)
  },
}

/** The token's claims, for what the page shows (the server checks the token itself on every call). */
export function claimsOf(token: string): Claims | null {
  try {
    const part = token.split('.')[1]!
    const json = atob(part.replaceAll('-', '+').replaceAll('_', '/').padEnd(Math.ceil(part.length / 4) * 4, '='))
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Record<string, unknown>
    return {
      username: String(claims.username ?? claims.sub ?? ''),
      role: typeof claims.role === 'string' ? claims.role : 'anonymous',
      groups: Array.isArray(claims.groups) ? claims.groups.map(String) : [],
      exp: typeof claims.exp === 'number' ? claims.exp : undefined,
    }
  } catch {
    return null
  }
}

/** Called when the server refuses the token (401): the page signs out. */
let onUnauthorized: (message: string) => void = () => {}
export function whenUnauthorized(handler: (message: string) => void) {
  onUnauthorized = handler
}

export const url = (path: string) => new URL(path.replace(/^\//, ''), ROOT).href

/** One API call; `token` overrides the session's (null: none). */
export async function call<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal, token: string | null = session.token()): Promise<T> {
  const headers: Record<string, string> = {}
  if (token) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(url(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal })
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error
    throw new ApiError(0, 'the server cannot be reached')
  }
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    parsed = undefined
  }
  if (!response.ok) {
    const message = (parsed as { error?: string } | undefined)?.error ?? `${response.status} ${response.statusText}`
    if (response.status === 401 && token && token === session.token()) onUnauthorized(message)
    throw new ApiError(response.status, message)
  }
  return parsed as T
}

export const get = <T = unknown>(path: string, signal?: AbortSignal) => call<T>('GET', path, undefined, signal)

export const post = <T = unknown>(path: string, body: unknown) => call<T>('POST', path, body)

export const put = <T = unknown>(path: string, body: unknown) => call<T>('PUT', path, body)

export const patch = <T = unknown>(path: string, body: unknown) => call<T>('PATCH', path, body)

/** `path` with the query parameters that are set. */
export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value))
  const text = params.toString()
  return text ? `${path}?${text}` : path
}

export const enc = encodeURIComponent
