/**
 * One error model for every failure: `{"code": <status>, "error": <message>}`.
 * Handlers and services throw with `fail(status, message)` (see errors.ts);
 * the app's error hook turns that, and every framework error, into this body.
 */
import { ValidationError } from 'elysia'
import { unavailability, type Unavailability } from '../db/faults'
import { StatusError } from '../errors'

const JSON_TYPE = 'application/json'

export function errorResponse(status: number, message: string, extraHeaders?: Record<string, string>): Response {
  const headers: Record<string, string> = { 'content-type': JSON_TYPE, ...extraHeaders }
  if (status === 401) headers['www-authenticate'] = 'Bearer'
  return new Response(JSON.stringify({ code: status, error: message }), { status, headers })
}

const TYPE_NAMES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null',
}

interface SchemaError {
  type: number
  path: string
  message: string
  value?: unknown
  schema?: { type?: string; [k: string]: unknown }
}

/** TypeBox ValueErrorType codes that matter for messages. */
const ARRAY_MAX_ITEMS = 2
const REQUIRED_PROPERTY = 45
const ADDITIONAL_PROPERTY = 42

function jsonTypeMatches(expected: string, value: unknown): boolean {
  switch (expected) {
    case 'integer':
      return Number.isInteger(value)
    case 'array':
      return Array.isArray(value)
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value)
    case 'null':
      return value === null
    default:
      return typeof value === expected
  }
}

/** Turns a schema violation into a message that names the key. */
export function validationMessage(error: ValidationError): string {
  // The first violation, found when the error was made: \`error.all\` would check the whole value again.
  const first = error.valueError as SchemaError | undefined
  const where = error.type === 'body' ? 'key' : error.type === 'query' ? 'query parameter' : 'path parameter'
  // The body parser's NO_BODY: nothing was sent where the route needs a body.
  if (error.type === 'body' && error.value === null) return 'missing body'
  if (!first) return `bad ${where}`
  // The path is a JSON pointer: '' is the whole value, '/' a key named "".
  if (first.path === '') return error.type === 'body' ? 'body must be a JSON object' : `bad ${where}`
  const key = first.path
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.')
  if (first.type === REQUIRED_PROPERTY) return error.type === 'body' ? `missing key: ${key}` : `missing ${where}: ${key}`
  if (first.type === ADDITIONAL_PROPERTY) return `unknown ${where}: ${key === '' ? '""' : key}`
  if (first.type === ARRAY_MAX_ITEMS) return `${where} ${key} holds more than ${String(first.schema?.maxItems)} items`
  const expected = first.schema?.type
  if (typeof expected === 'string' && TYPE_NAMES[expected]) {
    const typeOk = jsonTypeMatches(expected, first.value)
    if (!typeOk) return `${where} ${key} must be ${TYPE_NAMES[expected]}`
  }
  return `${where} ${key}: ${first.message.toLowerCase()}`
}

const FRAMEWORK_ERRORS: Record<string, [number, string]> = {
  NOT_FOUND: [404, 'not found'],
  PARSE: [400, 'body is not valid JSON'],
  INVALID_COOKIE_SIGNATURE: [400, 'bad cookie'],
  INVALID_FILE_TYPE: [400, 'bad file type'],
}

/** What a client is told when storage refuses its request; the request changed nothing. */
const STORAGE_REFUSALS: Record<Unavailability, () => Response> = {
  // Another process writes: the lock is usually free again within a second.
  locked: () => errorResponse(503, 'database is locked by another writer; retry', { 'retry-after': '1' }),
  full: () => errorResponse(507, "insufficient storage: the database's disk is full; nothing was written"),
}

/**
 * The app's error hook: every failure becomes `{code, error}`. A real fault is
 * handed to `reportFault` (the app's log) and its detail never leaks.
 */
export function toErrorResponse(code: string | number, error: unknown, reportFault: (error: unknown) => void): Response {
  if (error instanceof StatusError) return errorResponse(error.status, error.message)
  const refusedBy = unavailability(error)
  if (refusedBy) return STORAGE_REFUSALS[refusedBy]()
  // Errors thrown while parsing the body arrive wrapped in Elysia's ParseError.
  if (error instanceof Error && error.cause instanceof StatusError) return errorResponse(error.cause.status, error.cause.message)
  // A response that fails its own schema is the server's fault, not the client's.
  if (error instanceof ValidationError && error.type !== 'response') return errorResponse(400, validationMessage(error))
  const known = typeof code === 'string' ? FRAMEWORK_ERRORS[code] : undefined
  if (known) return errorResponse(known[0], known[1])
  if (typeof code === 'number' && code >= 400 && code < 500) return errorResponse(code, 'request refused')
  reportFault(error)
  return errorResponse(500, 'internal server error')
}
