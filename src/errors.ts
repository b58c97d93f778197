/**
 * The one way to refuse a request: `fail(status, message)` throws a
 * StatusError, from a service, a guard or a handler alike. Elysia honours the
 * `status` of any error it catches; the app's error hook (http/errors.ts)
 * turns it into the `{"code", "error"}` body.
 */
export class StatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export function fail(status: number, message: string): never {
  throw new StatusError(status, message)
}
