import { t } from 'elysia'
import { Doc, Int, Names } from '../../http/schema'

/**
 * A username (of a login or of POST /users) and a login's password are at
 * most this long (LDAP uids and passwords are far shorter): a longer one is
 * 400, before the throttle keeps it or a user is stored.
 */
export const MAX_USERNAME_LENGTH = 256
export const MAX_PASSWORD_LENGTH = 1024

/** Like every body in the API, these accept extra keys; only the named ones are used. */
export const AuthModel = {
  /** Optional (API.md): no body is a role without extra keys. */
  roleBody: t.Optional(Doc({ name: t.Optional(t.String()) }, 'A role: any extra keys are kept; the body is optional')),
  groupBody: Doc({ name: t.String() }, 'A group: `name` plus any extra keys (e.g. priority)'),
  userBody: Doc({ username: t.String({ maxLength: MAX_USERNAME_LENGTH }), roles: t.Optional(Names), groups: t.Optional(Names) }),
  addGroup: Doc({ group: t.String() }),
  setGroups: Doc({ groups: Names }),
  setRoles: Doc({ roles: Names }),
  rule: Doc({ read_groups: Names, write_groups: Names }),
  login: Doc({ username: t.String({ minLength: 1, maxLength: MAX_USERNAME_LENGTH }), password: t.String({ maxLength: MAX_PASSWORD_LENGTH }) }),
  loginResult: t.Object({ token: t.String(), username: t.String(), roles: Names, current_role: t.String(), groups: Names }),
  createToken: Doc({
    type: t.Optional(t.String({ description: 'temp (default), user or system' })),
    role: t.Optional(t.String()),
    exp: t.Optional(Int({ description: 'lifetime in seconds' })),
  }),
  tokenResult: t.Object({ result: t.String() }),
}
