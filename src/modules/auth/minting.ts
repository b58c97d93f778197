/**
 * Token minting: the first admin token of a new database, login tokens and
 * tokens derived from a caller's (`/create_token`).
 */
import type { Auth, TokenService, TokenType } from '../../auth/tokens'
import { systemClock, type Clock } from '../../clock'
import type { Config } from '../../config'
import { fail } from '../../errors'
import type { AuthModel } from './model'
import type { AuthService, User } from './service'

export type TokenRequest = typeof AuthModel.createToken.static

export class TokenMinting {
  constructor(
    private readonly users: AuthService,
    private readonly tokens: TokenService,
    private readonly config: Config,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * On a database without users (new, or only migrated so far): creates the
   * user `admin` with the admin role and returns a token for it; otherwise undefined.
   */
  async bootstrapAdmin(): Promise<string | undefined> {
    if (this.users.hasUsers()) return undefined
    const user = await this.users.findOrCreateUser('admin')
    if (!user.roles.includes('admin')) await this.users.setUserList(user.user_id, 'roles', [...user.roles, 'admin'])
    return this.tokens.sign({ username: 'admin', role: 'admin', type: 'user', ttl: this.config.tokenTtl })
  }

  /** A login token for `user`: role `user` when the user holds it, else `anonymous`. */
  async loginToken(user: User): Promise<{ token: string; role: string }> {
    const role = user.roles.includes('user') ? 'user' : 'anonymous'
    const token = await this.tokens.sign({ username: user.username, role, groups: user.groups, type: 'user', ttl: this.config.tokenTtl })
    return { token, role }
  }

  /** `/create_token`: a token derived from the caller's (API.md 4.1.2). */
  async deriveToken(caller: Auth, request: TokenRequest): Promise<string> {
    if (caller.type !== 'user' && caller.type !== 'system') fail(400, `cannot derive a token from a ${caller.type} token`)
    const user = this.users.userByName(caller.username) ?? fail(400, `unknown user: ${caller.username}`)
    const type = (request.type ?? 'temp') as TokenType
    const remaining = Math.floor(caller.exp - this.clock() / 1000)
    if (request.exp !== undefined && (request.exp < 0 || request.exp > remaining)) {
      fail(400, `key exp must be between 0 and the calling token's remaining lifetime (${remaining} s)`)
    }
    let ttl = request.exp ?? remaining
    let role: string
    let tokenGroups: string[] = []
    if (type === 'temp') {
      role = request.role ?? caller.role
      if ((role !== 'user' && role !== 'admin') || !user.roles.includes(role)) fail(400, `cannot mint a temp token with role ${role}`)
      ttl = Math.min(ttl, this.config.tempTokenTtl)
      tokenGroups = user.groups
    } else if (type === 'user') {
      role = request.role ?? caller.role
      if (role !== 'user' && role !== 'admin') fail(400, `a user token cannot have role ${role}`)
      if (!user.roles.includes('admin')) fail(400, 'switching roles requires the admin role')
      tokenGroups = user.groups
    } else if (type === 'system') {
      role = request.role ?? fail(400, 'missing key: role')
      const allowed = caller.role === 'admin' ? ['system', 'client'] : caller.role === 'client' ? ['pilot'] : []
      if (!allowed.includes(role)) fail(400, `role ${caller.role} cannot mint a system token with role ${role}`)
    } else fail(400, `bad token type: ${type}`)
    return this.tokens.sign({ username: user.username, role, groups: tokenGroups, type, ttl })
  }
}
