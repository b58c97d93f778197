import { fail, StatusError } from '../errors'

/**
 * Deepest nesting of arrays and objects accepted in a body. Documents are
 * stored and read back through SQLite's JSON functions, which refuse input
 * nested deeper than 1000 levels (a stored document can wrap the body one
 * level deeper, e.g. a task stat's `stats`), and JSON.stringify recurses.
 */
export const MAX_DEPTH = 512

const tooLarge = (maxBody: number) => fail(413, `body larger than ${maxBody} bytes`)

/**
 * What an absent or empty body parses to. A route whose body schema is
 * optional (t.Optional) takes it as no body; every other route with a body
 * schema refuses it with 400 "missing body" (see http/errors.ts), so that a
 * bad request never stands for `{}` (a config replaced by nothing).
 */
export const NO_BODY = null

/**
 * Parses every request body as a JSON object within the size limit, whatever
 * its Content-Type says: IceProd's clients (Tornado's HTTP client) and
 * `curl -d` label JSON `application/x-www-form-urlencoded`, or label it not at all.
 */
export async function parseJsonBody(request: Request, maxBody: number): Promise<Record<string, unknown> | typeof NO_BODY> {
  const bytes = await readBody(request, maxBody)
  if (bytes.byteLength === 0) return NO_BODY
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    fail(400, 'body is not valid JSON')
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(400, 'body must be a JSON object')
  const refusal = checkBody(value, MAX_DEPTH)
  if (refusal !== undefined) fail(400, refusal)
  return value as Record<string, unknown>
}

/**
 * The body's bytes, refusing more than `maxBody` (413). A declared length is
 * checked before anything is read (the server reads no more than it); a body
 * without one (chunked) is read only up to the limit, never buffered whole.
 * A body that cannot be read (the client went away mid-body) is 400.
 */
async function readBody(request: Request, maxBody: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > maxBody) tooLarge(maxBody)
  try {
    if (declared !== null || request.body === null) {
      const bytes = new Uint8Array(await request.arrayBuffer())
      if (bytes.byteLength > maxBody) tooLarge(maxBody)
      return bytes
    }
    return await readLimited(request.body, maxBody)
  } catch (error) {
    if (error instanceof StatusError) throw error
    fail(400, 'body could not be read')
  }
}

async function readLimited(body: ReadableStream<Uint8Array>, maxBody: number): Promise<Uint8Array> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBody) {
      // Stop reading: the rest of the body is not wanted.
      void reader.cancel().catch(() => {})
      tooLarge(maxBody)
    }
    chunks.push(value)
  }
  if (chunks.length === 1) return chunks[0]!
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

/**
 * Why the parsed body cannot be stored, or undefined when it can: nesting
 * deeper than `maxDepth` levels (the body itself is level 1), or a string or
 * key holding a lone surrogate. SQLite keeps text as UTF-8, which cannot carry
 * one: the indexed fields extracted from a stored document would then differ
 * from the document (a task's name in the name/status counts, for instance).
 *
 * On the way, every object holding a `toString` key gets a string conversion
 * (see `withStringConversion`). Iterative, so any depth is safe.
 */
function checkBody(root: object, maxDepth: number): string | undefined {
  const stack: { container: object; depth: number; path: string }[] = [{ container: root, depth: 1, path: '' }]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { container, depth, path } = next
    if (depth > maxDepth) return `body is nested deeper than ${maxDepth} levels`
    const keys = Array.isArray(container) ? undefined : Object.keys(container)
    const values: unknown[] = keys === undefined ? (container as unknown[]) : Object.values(container)
    if (keys !== undefined && Object.hasOwn(container, 'toString')) withStringConversion(container)
    for (let i = 0; i < values.length; i++) {
      if (keys !== undefined && !keys[i]!.isWellFormed()) return `key names must be valid Unicode (${JSON.stringify(childPath(path, keys, i))} holds a lone surrogate)`
      const child = values[i]
      if (typeof child === 'string') {
        if (!child.isWellFormed()) return `key ${childPath(path, keys, i)} must be valid Unicode text (it holds a lone surrogate)`
      } else if (child !== null && typeof child === 'object') stack.push({ container: child, depth: depth + 1, path: childPath(path, keys, i) })
    }
  }
  return undefined
}

/**
 * An object parsed from `{"toString": ...}` cannot be turned into a string
 * (its toString is not a function), and Elysia writes the value it found into
 * the message of a failed string check: such a body made the validator throw,
 * a 500 instead of a 400. A hidden Symbol.toPrimitive gives it the usual
 * "[object Object]"; symbols are invisible to JSON, to key listings and to
 * spreads, so the stored document is unchanged.
 */
function withStringConversion(object: object): void {
  Object.defineProperty(object, Symbol.toPrimitive, { value: plainObjectText, enumerable: false })
}

function plainObjectText(): string {
  return '[object Object]'
}

/** `a.b.0`: the dotted path of a container's i-th child, built only for containers and messages. */
function childPath(path: string, keys: string[] | undefined, i: number): string {
  return (path === '' ? '' : path + '.') + (keys === undefined ? String(i) : keys[i])
}
