/**
 * IceProd-compatible tokens: HS512 JWTs with `iss: "IceProd"`, a required
 * `exp` and a `type` of temp, user or system. Signing and verification go
 * through @elysiajs/jwt (jose underneath), pinned to HS512.
 *
 * `exp`, `nbf` and `iat` may be fractional seconds (IceProd's own
 * `Auth.create_token` writes `time.time()`). `exp` and `nbf` are checked here,
 * against the exact time and with a tolerance of `clockSkew` seconds: jose
 * compares them with the current second rounded down, which refuses a token
 * whose fractional `nbf` lies in the second it was minted.
 */
import { jwt } from '@elysiajs/jwt'

export const TOKEN_TYPES = ['temp', 'user', 'system'] as const
export type TokenType = (typeof TOKEN_TYPES)[number]
export const ISSUER = 'IceProd'

/** What a verified token says about its bearer. */
export interface Auth {
  type: TokenType
  /** The token's role; a token without one has no role privileges. */
  role: string
  username: string
  groups: string[]
  /** Expiry, seconds since the epoch. */
  exp: number
}

export interface NewToken {
  username: string
  role: string
  groups?: string[]
  type?: TokenType
  /** Lifetime in seconds. */
  ttl: number
}

export interface TokenServiceOptions {
  /** Seconds by which `exp` and `nbf` may be off (clocks differ between hosts); default 60. */
  clockSkew?: number
  /** The current time in milliseconds since the epoch; Date.now by default. */
  clock?: () => number
}

/** Tokens longer than this are refused without being verified. */
const MAX_TOKEN_LENGTH = 8192
/** Verified tokens remembered, so a busy client is not re-verified on every request. */
const CACHE_SIZE = 10_000
export const DEFAULT_CLOCK_SKEW = 60

export class TokenService {
  private readonly jwt
  private readonly cache = new Map<string, Auth & { nbf: number }>()
  private readonly clockSkew: number
  private readonly clock: () => number

  constructor(secret: string, options: TokenServiceOptions = {}) {
    this.jwt = jwt({ name: 'jwt', secret, alg: 'HS512', iss: ISSUER }).decorator.jwt
    this.clockSkew = options.clockSkew ?? DEFAULT_CLOCK_SKEW
    this.clock = options.clock ?? Date.now
  }

  async sign(token: NewToken): Promise<string> {
    const now = Math.floor(this.clock() / 1000)
    return this.jwt.sign({
      sub: token.username,
      username: token.username,
      role: token.role,
      groups: token.groups ?? [],
      type: token.type ?? 'user',
      nbf: now,
      exp: now + token.ttl,
    })
  }

  /**
   * The bearer of an already verified `token` that is valid now, without any
   * await: the hot path of every authenticated request. Undefined otherwise.
   */
  cached(token: string): Auth | undefined {
    const hit = this.cache.get(token)
    if (!hit) return undefined
    const now = this.clock() / 1000
    if (this.isCurrent(hit, now)) return hit
    if (hit.exp <= now - this.clockSkew) this.cache.delete(token)
    return undefined
  }

  /** The bearer of `token`, or undefined when it fails any check. Failures are never cached. */
  async verify(token: string): Promise<Auth | undefined> {
    if (this.cache.has(token)) return this.cached(token)
    if (token.length > MAX_TOKEN_LENGTH) return undefined
    const nowMs = this.clock()
    const claims = await this.jwt.verify(token, {
      algorithms: ['HS512'],
      issuer: ISSUER,
      requiredClaims: ['exp'],
      // jose's own time check works on whole seconds; one second more than the
      // skew makes it looser than the exact check below, which decides.
      currentDate: new Date(nowMs),
      clockTolerance: this.clockSkew + 1,
    })
    if (!claims) return undefined
    const auth = toAuth(claims as Record<string, unknown>)
    if (!auth || !this.isCurrent(auth, nowMs / 1000)) return undefined
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(token, auth)
    return auth
  }

  /** When (milliseconds on the clock) a token with this `exp` stops being valid: `exp` plus the clock skew. */
  endsAtMs(auth: Pick<Auth, 'exp'>): number {
    return (auth.exp + this.clockSkew) * 1000
  }

  /** Whether a token with these times is valid at `now` (seconds), within the clock skew. */
  private isCurrent(times: { exp: number; nbf: number }, now: number): boolean {
    return times.exp > now - this.clockSkew && times.nbf <= now + this.clockSkew
  }
}

function toAuth(claims: Record<string, unknown>): (Auth & { nbf: number }) | undefined {
  const { type, role, groups, exp, nbf } = claims
  if (typeof type !== 'string' || !(TOKEN_TYPES as readonly string[]).includes(type)) return undefined
  if (role !== undefined && typeof role !== 'string') return undefined
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) return undefined
  if (typeof exp !== 'number') return undefined
  const username = typeof claims.username === 'string' ? claims.username : typeof claims.sub === 'string' ? claims.sub : ''
  return {
    type: type as TokenType,
    role: role ?? 'anonymous',
    username,
    groups: (groups as string[] | undefined) ?? [],
    exp,
    nbf: typeof nbf === 'number' ? nbf : 0,
  }
}

/** The token in an `Authorization: Bearer <token>` header (scheme case-insensitive). */
export function bearerToken(header: string | null): string | undefined {
  if (!header) return undefined
  const space = header.indexOf(' ')
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined
  const token = header.slice(space + 1).trim()
  return token.length > 0 ? token : undefined
}
