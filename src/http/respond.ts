/**
 * Responses built from stored JSON text: documents are sent as stored, never
 * parsed and re-serialised on the way out.
 *
 * Routes return a `JsonText` rather than a Response. The app's response hook
 * turns it into one with the request id among the headers it is created with;
 * adding a header to a Response after it exists costs Bun several times more
 * (it then sends the response through its slow path). Without that hook
 * Elysia calls `toResponse()` itself.
 */
const JSON_HEADERS = { 'content-type': 'application/json' }
/**
 * The headers of a response with a request id, refilled for each one: a
 * Response copies the headers it is created with, so one object serves every
 * response and a busy server allocates none for them.
 */
const JSON_HEADERS_WITH_ID = { 'content-type': 'application/json', 'x-request-id': '' }

export class JsonText {
  constructor(
    readonly body: string,
    readonly status = 200,
    /** The Location header of a 201. */
    readonly location?: string,
  ) {}

  toResponse(requestId?: string): Response {
    let headers: Record<string, string>
    if (this.location !== undefined) {
      headers = { 'content-type': 'application/json', location: this.location }
      if (requestId !== undefined) headers['x-request-id'] = requestId
    } else if (requestId === undefined) {
      headers = JSON_HEADERS
    } else {
      JSON_HEADERS_WITH_ID['x-request-id'] = requestId
      headers = JSON_HEADERS_WITH_ID
    }
    return new Response(this.body, { status: this.status, headers })
  }
}

/** A response whose body is already JSON text. */
export function jsonText(body: string, status = 200): JsonText {
  return new JsonText(body, status)
}

/** 201 with a Location header and `{"result": result}`. */
export function created(location: string, result: string = location): JsonText {
  return new JsonText(JSON.stringify({ result }), 201, location)
}
