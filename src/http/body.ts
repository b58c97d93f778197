import { fail } from './errors'

/** Content types accepted as JSON; a body without one is read as JSON too. */
const isJsonType = (type: string) => type === '' || type.startsWith('application/json') || /^application\/[\w.+-]+\+json/.test(type)

/**
 * Parses every request body as a JSON object within the size limit. An empty
 * body reads as `{}` so routes whose body is optional need no special case;
 * routes that need keys reject `{}` through their schema.
 */
export async function parseJsonBody(request: Request, contentType: string, maxBody: number): Promise<Record<string, unknown>> {
  if (!isJsonType(contentType.toLowerCase())) fail(415, 'Content-Type must be application/json')
  const declared = Number(request.headers.get('content-length') ?? 0)
  if (declared > maxBody) fail(413, `body larger than ${maxBody} bytes`)
  const bytes = await request.arrayBuffer()
  if (bytes.byteLength > maxBody) fail(413, `body larger than ${maxBody} bytes`)
  if (bytes.byteLength === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    fail(400, 'body is not valid JSON')
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(400, 'body must be a JSON object')
  return value as Record<string, unknown>
}
