import { Elysia } from 'elysia'
import { LdapUnavailableError, ldapCheckPassword } from '../../auth/ldap'
import { LoginThrottle } from '../../auth/throttle'
import { DATASET_WRITERS, decide, hasDatasetAccess } from '../../auth/access'
import { adminOnly, clientsAndUsers, system } from '../../auth/roles'
import type { AppContext } from '../../context'
import { fail } from '../../errors'
import { created } from '../../http/respond'
import { Empty } from '../../http/schema'
import type { TokenMinting } from './minting'
import { AuthModel } from './model'

const admin = { roles: adminOnly } as const

export const authModule = (ctx: AppContext, minting: TokenMinting, auth = ctx.auth, throttle = new LoginThrottle()) =>
  new Elysia({ name: 'module:auth', detail: { tags: ['Auth'] } })
    .use(ctx.access)
    // roles
    .get('/roles', () => ({ results: auth.listRoles() }), { access: admin })
    .put('/roles/:role_name', async ({ params, body }) => (await auth.putRole(params.role_name, body ?? {}), {}), {
      access: admin,
      body: AuthModel.roleBody,
      response: Empty,
    })
    .get('/roles/:role_name', ({ params }) => auth.getRole(params.role_name), { access: admin })
    .delete('/roles/:role_name', async ({ params }) => (await auth.deleteRole(params.role_name), {}), { access: admin })
    // groups
    .get('/groups', () => ({ results: auth.listGroups() }), { access: admin })
    .post('/groups', async ({ body }) => {
      const id = await auth.createGroup(body)
      return created(`/groups/${id}`)
    }, { access: admin, body: AuthModel.groupBody })
    .get('/groups/:group_id', ({ params }) => auth.getGroup(params.group_id), { access: admin })
    .delete('/groups/:group_id', async ({ params }) => (await auth.deleteGroup(params.group_id), {}), { access: admin })
    // users
    .get('/users', () => ({ results: auth.listUsers() }), { access: admin })
    .post('/users', async ({ body }) => {
      const id = await auth.createUser(body)
      return created(`/users/${id}`)
    }, { access: admin, body: AuthModel.userBody })
    .get('/users/:user_id', ({ params }) => auth.getUser(params.user_id), { access: admin })
    .delete('/users/:user_id', async ({ params }) => (await auth.deleteUser(params.user_id), {}), { access: admin })
    .get('/users/:user_id/groups', ({ params }) => ({ results: auth.getUser(params.user_id).groups }), { access: admin })
    .post('/users/:user_id/groups', async ({ params, body }) => (await auth.addUserGroup(params.user_id, body.group), {}), {
      access: admin,
      body: AuthModel.addGroup,
    })
    .put('/users/:user_id/groups', async ({ params, body }) => (await auth.setUserList(params.user_id, 'groups', body.groups), {}), {
      access: admin,
      body: AuthModel.setGroups,
    })
    .put('/users/:user_id/roles', async ({ params, body }) => (await auth.setUserList(params.user_id, 'roles', body.roles), {}), {
      access: admin,
      body: AuthModel.setRoles,
    })
    // login and tokens
    .post('/ldap', async ({ body, request }) => {
      const { config } = ctx
      const address = ctx.clientAddresses.of(request)
      const ok = await throttle.attempt(body.username, address, ctx.clock, async () => {
        if (body.password === '') return false
        if (!config.ldapUrl || !config.ldapBase) fail(501, 'LDAP login is not configured')
        try {
          return await ldapCheckPassword(config.ldapUrl, config.ldapBase, body.username, body.password, config.ldapTimeoutMs)
        } catch (error) {
          if (error instanceof LdapUnavailableError) fail(503, 'LDAP server unavailable')
          throw error
        }
      })
      if (!ok) fail(401, 'Login failed')
      const user = await auth.findOrCreateUser(body.username)
      const { token, role } = await minting.loginToken(user)
      return { token, username: user.username, roles: user.roles, current_role: role, groups: user.groups }
    }, { access: 'public', body: AuthModel.login, response: AuthModel.loginResult })
    .post('/create_token', async ({ auth: caller, body }) => ({ result: await minting.deriveToken(caller, body) }), {
      access: { roles: clientsAndUsers },
      body: AuthModel.createToken,
      response: AuthModel.tokenResult,
    })
    // dataset access rules
    .put('/auths/:dataset_id', async ({ params, body }) => (await auth.putRule(params.dataset_id, body), {}), {
      access: { roles: system },
      body: AuthModel.rule,
    })
    .get('/auths/:dataset_id', ({ params }) => auth.getRule(params.dataset_id), { access: admin })
    .get('/auths/:dataset_id/actions/:action', ({ params, auth: caller }) => {
      const mode = params.action
      if (mode !== 'read' && mode !== 'write') fail(400, `bad action: ${mode}`)
      // Read: the groups alone (API.md §4.1). Write: whoever may run the dataset's actions (admins too), on a dataset that exists.
      const allowed = mode === 'read' ? hasDatasetAccess(caller.groups, auth.rule(params.dataset_id), 'read') : decide(DATASET_WRITERS, caller, auth, params.dataset_id) === 'allowed'
      if (!allowed) fail(403, `no ${mode} access to dataset ${params.dataset_id}`)
      return {}
    }, { access: { roles: 'any' } })
