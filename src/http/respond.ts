/**
 * Responses built from stored JSON text: documents are sent as stored, never
 * parsed and re-serialised on the way out.
 */
const JSON_HEADERS = { 'content-type': 'application/json' }

/** A response whose body is already JSON text. */
export function jsonText(body: string, status = 200): Response {
  return new Response(body, { status, headers: JSON_HEADERS })
}

/** 201 with a Location header and `{"result": result}`. */
export function created(location: string, result: string = location): Response {
  return new Response(JSON.stringify({ result }), {
    status: 201,
    headers: { 'content-type': 'application/json', location },
  })
}
