import { t } from 'elysia'
import { Doc, Int, Names } from '../../http/schema'

/** Like every body in the API, these accept extra keys; only the named ones are used. */
export const AuthModel = {
  /** Optional (API.md): no body is a role without extra keys. */
  roleBody: t.Optional(Doc({ name: t.Optional(t.String()) }, 'A role: any extra keys are kept; the body is optional')),
  groupBody: Doc({ name: t.String() }, 'A group: `name` plus any extra keys (e.g. priority)'),
  userBody: Doc({ username: t.String(), roles: t.Optional(Names), groups: t.Optional(Names) }),
  addGroup: Doc({ group: t.String() }),
  setGroups: Doc({ groups: Names }),
  setRoles: Doc({ roles: Names }),
  rule: Doc({ read_groups: Names, write_groups: Names }),
  login: Doc({ username: t.String({ minLength: 1 }), password: t.String() }),
  loginResult: t.Object({ token: t.String(), username: t.String(), roles: Names, current_role: t.String(), groups: Names }),
  createToken: Doc({
    type: t.Optional(t.String({ description: 'temp (default), user or system' })),
    role: t.Optional(t.String()),
    exp: t.Optional(Int({ description: 'lifetime in seconds' })),
  }),
  tokenResult: t.Object({ result: t.String() }),
}
