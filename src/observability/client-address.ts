/**
 * How the app learns a request's client address: the HTTP server that
 * accepted the connection tells it (`Bun.serve`'s `requestIP`), through
 * `ClientAddresses.use`. A request handled in-process (`app.handle`, as the
 * tests do) has no address and is never taken for a loopback client.
 */
export type AddressOf = (request: Request) => string | undefined

export class ClientAddresses {
  private addressOf: AddressOf = () => undefined

  use(addressOf: AddressOf): void {
    this.addressOf = addressOf
  }

  of(request: Request): string | undefined {
    return this.addressOf(request)
  }
}

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false
  if (address === '::1') return true
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)
}

/**
 * True when a proxy forwarded the request: a proxy on the same host connects
 * from loopback, so such a request must not count as a local one.
 */
export function forwardedByProxy(request: Request): boolean {
  const headers = request.headers
  return headers.has('x-forwarded-for') || headers.has('forwarded') || headers.has('x-real-ip')
}
