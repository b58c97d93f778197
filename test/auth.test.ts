import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { MAX_USERNAME_LENGTH } from '../src/modules/auth/model'
import { startTestApp, type TestApp } from './support'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp({ tempTokenTtl: 600 })
})
afterAll(() => t.close())

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())

/** A dataset row written straight to the table, for the rule routes (datasets have their own tests). */
function insertDataset(id: string) {
  t.ctx.sqlite.run('INSERT INTO datasets (dataset_id, doc) VALUES (?, ?)', [id, JSON.stringify({ dataset_id: id, dataset: Math.floor(Math.random() * 1e9), status: 'processing' })])
}

async function createGroup(name: string, extra: object = {}) {
  const r = await t.call('POST', '/groups', { body: { name, ...extra } })
  expect(r.status).toBe(201)
  return (r.body.result as string).split('/').pop()!
}

async function createUser(username: string, roles: string[] = [], groups: string[] = []) {
  const r = await t.call('POST', '/users', { body: { username, roles, groups } })
  expect(r.status).toBe(201)
  return (r.body.result as string).split('/').pop()!
}

describe('roles', () => {
  test('built-in roles exist from the first start', async () => {
    const r = await t.call('GET', '/roles')
    expect(r.status).toBe(200)
    expect(r.body.results.map((x: { name: string }) => x.name)).toEqual(['user', 'admin', 'system', 'client', 'pilot', 'anonymous'])
  })

  test('PUT creates or replaces a role with extra fields; GET returns it', async () => {
    expect((await t.call('PUT', '/roles/operator', { body: { level: 3 } })).body).toEqual({})
    expect((await t.call('GET', '/roles/operator')).body).toEqual({ name: 'operator', level: 3 })
    expect((await t.call('PUT', '/roles/operator', { body: { name: 'operator', level: 4 } })).status).toBe(200)
    expect((await t.call('GET', '/roles/operator')).body).toEqual({ name: 'operator', level: 4 })
    expect((await t.call('PUT', '/roles/empty')).status).toBe(200)
    expect((await t.call('GET', '/roles/empty')).body).toEqual({ name: 'empty' })
  })

  test('PUT with a name other than the path is 400 and writes nothing', async () => {
    const before = t.count('roles')
    const r = await t.call('PUT', '/roles/r1', { body: { name: 'r2' } })
    expect(r.status).toBe(400)
    expect(r.body.error).toContain('name')
    expect(t.count('roles')).toBe(before)
  })

  test('GET and DELETE of a missing role are 404', async () => {
    expect((await t.call('GET', '/roles/nope')).status).toBe(404)
    expect((await t.call('DELETE', '/roles/nope')).status).toBe(404)
  })

  test('built-in roles cannot be deleted', async () => {
    for (const name of ['user', 'admin', 'system', 'client', 'pilot', 'anonymous']) {
      const r = await t.call('DELETE', `/roles/${name}`)
      expect(r.status).toBe(400)
    }
    expect(t.count('roles')).toBeGreaterThanOrEqual(6)
  })

  test('DELETE removes the role from every user', async () => {
    await t.call('PUT', '/roles/temporary')
    const id = await createUser('role-holder', ['temporary', 'user'])
    expect((await t.call('DELETE', '/roles/temporary')).body).toEqual({})
    expect((await t.call('GET', '/roles/temporary')).status).toBe(404)
    expect((await t.call('GET', `/users/${id}`)).body.roles).toEqual(['user'])
  })
})

describe('groups', () => {
  test('POST creates a group: 201, Location, result path, extra fields kept', async () => {
    const r = await t.call('POST', '/groups', { body: { name: '/simprod', priority: 0.5, meta: { a: [1, null, true] } } })
    expect(r.status).toBe(201)
    expect(r.body.result).toMatch(/^\/groups\/[0-9a-f]{32}$/)
    expect(r.headers.get('location')).toBe(r.body.result)
    const got = await t.call('GET', r.body.result)
    expect(got.body).toEqual({ group_id: r.body.result.split('/').pop(), name: '/simprod', priority: 0.5, meta: { a: [1, null, true] } })
  })

  test('a duplicate name is 409 and writes nothing', async () => {
    await createGroup('/dup')
    const before = t.count('groups')
    const r = await t.call('POST', '/groups', { body: { name: '/dup' } })
    expect(r.status).toBe(409)
    expect(t.count('groups')).toBe(before)
  })

  test('validation: missing or mistyped name is 400 naming the key', async () => {
    const before = t.count('groups')
    const missing = await t.call('POST', '/groups', { body: { priority: 1 } })
    expect(missing.status).toBe(400)
    expect(missing.body.error).toBe('missing key: name')
    const typed = await t.call('POST', '/groups', { body: { name: 7 } })
    expect(typed.status).toBe(400)
    expect(typed.body.error).toBe('key name must be a string')
    expect((await t.call('POST', '/groups', { body: '[1,2]' })).status).toBe(400)
    expect((await t.call('POST', '/groups', { body: '{"name":' })).body).toEqual({ code: 400, error: 'body is not valid JSON' })
    expect(t.count('groups')).toBe(before)
  })

  test('GET /groups lists groups in creation order', async () => {
    const names = (await t.call('GET', '/groups')).body.results.map((g: { name: string }) => g.name)
    expect(names.indexOf('/simprod')).toBeLessThan(names.indexOf('/dup'))
  })

  test('GET and DELETE of a missing group are 404', async () => {
    expect((await t.call('GET', '/groups/0123456789abcdef0123456789abcdef')).status).toBe(404)
    expect((await t.call('DELETE', '/groups/0123456789abcdef0123456789abcdef')).status).toBe(404)
  })

  test('DELETE removes the group from users and from dataset rules', async () => {
    const gid = await createGroup('/doomed')
    await createGroup('/kept')
    const uid = await createUser('member-of-doomed', [], ['/doomed', '/kept'])
    insertDataset('dsdoomed')
    expect((await t.call('PUT', '/auths/dsdoomed', { body: { read_groups: ['/doomed', '/kept'], write_groups: ['/doomed'] } })).status).toBe(200)
    expect((await t.call('DELETE', `/groups/${gid}`)).body).toEqual({})
    expect((await t.call('GET', `/users/${uid}/groups`)).body).toEqual({ results: ['/kept'] })
    expect((await t.call('GET', '/auths/dsdoomed')).body).toEqual({ read_groups: ['/kept'], write_groups: [] })
  })
})

describe('users', () => {
  test('POST creates a user with roles, groups and extra fields', async () => {
    await createGroup('/ugroup')
    const r = await t.call('POST', '/users', { body: { username: 'carol', roles: ['user'], groups: ['/ugroup'], email: 'c@x' } })
    expect(r.status).toBe(201)
    expect(r.body.result).toMatch(/^\/users\/[0-9a-f]{32}$/)
    expect(r.headers.get('location')).toBe(r.body.result)
    const user = (await t.call('GET', r.body.result)).body
    expect(user).toEqual({ user_id: r.body.result.split('/').pop(), username: 'carol', roles: ['user'], groups: ['/ugroup'], email: 'c@x' })
    const list = (await t.call('GET', '/users')).body.results
    expect(list.some((u: { username: string }) => u.username === 'carol')).toBe(true)
  })

  test(`a username is at most ${MAX_USERNAME_LENGTH} characters, as at /ldap: a longer one is 400 and writes nothing`, async () => {
    const before = t.count('users')
    for (const username of ['u'.repeat(MAX_USERNAME_LENGTH + 1), 'u'.repeat(2_000_000)]) {
      const r = await t.call('POST', '/users', { body: { username } })
      expect({ status: r.status, body: r.body }).toEqual({ status: 400, body: { code: 400, error: `key username: expected string length less or equal to ${MAX_USERNAME_LENGTH}` } })
    }
    expect(t.count('users')).toBe(before)
    const id = await createUser('u'.repeat(MAX_USERNAME_LENGTH))
    expect((await t.call('GET', `/users/${id}`)).body.username).toHaveLength(MAX_USERNAME_LENGTH)
  })

  test('roles and groups default to empty lists', async () => {
    const id = await createUser('dave')
    expect((await t.call('GET', `/users/${id}`)).body).toMatchObject({ username: 'dave', roles: [], groups: [] })
  })

  test('duplicate username is 409; unknown role or group is 400; nothing written', async () => {
    await createUser('erin')
    const before = t.count('users')
    expect((await t.call('POST', '/users', { body: { username: 'erin' } })).status).toBe(409)
    const role = await t.call('POST', '/users', { body: { username: 'frank', roles: ['wizard'] } })
    expect(role.status).toBe(400)
    expect(role.body.error).toContain('wizard')
    const group = await t.call('POST', '/users', { body: { username: 'frank', groups: ['/nowhere'] } })
    expect(group.status).toBe(400)
    expect(group.body.error).toContain('/nowhere')
    expect((await t.call('POST', '/users', { body: { username: 'frank', roles: 'user' } })).body.error).toBe('key roles must be an array')
    expect((await t.call('POST', '/users', { body: {} })).body.error).toBe('missing key: username')
    expect(t.count('users')).toBe(before)
  })

  test('user group and role routes', async () => {
    await createGroup('/a')
    await createGroup('/b')
    const id = await createUser('gina', [], ['/a'])
    expect((await t.call('GET', `/users/${id}/groups`)).body).toEqual({ results: ['/a'] })
    expect((await t.call('POST', `/users/${id}/groups`, { body: { group: '/b' } })).body).toEqual({})
    expect((await t.call('POST', `/users/${id}/groups`, { body: { group: '/b' } })).status).toBe(200)
    expect((await t.call('GET', `/users/${id}/groups`)).body).toEqual({ results: ['/a', '/b'] })
    expect((await t.call('POST', `/users/${id}/groups`, { body: { group: '/zzz' } })).status).toBe(400)
    expect((await t.call('PUT', `/users/${id}/groups`, { body: { groups: ['/b'], note: 'extra keys are ignored' } })).body).toEqual({})
    expect((await t.call('GET', `/users/${id}/groups`)).body).toEqual({ results: ['/b'] })
    expect((await t.call('PUT', `/users/${id}/groups`, { body: { groups: ['/b', '/zzz'] } })).status).toBe(400)
    expect((await t.call('GET', `/users/${id}/groups`)).body).toEqual({ results: ['/b'] })
    expect((await t.call('PUT', `/users/${id}/roles`, { body: { roles: ['user', 'admin'] } })).body).toEqual({})
    expect((await t.call('GET', `/users/${id}`)).body.roles).toEqual(['user', 'admin'])
    expect((await t.call('PUT', `/users/${id}/roles`, { body: { roles: ['nope'] } })).status).toBe(400)
    expect((await t.call('PUT', `/users/${id}/roles`, { body: {} })).body.error).toBe('missing key: roles')
  })

  test('missing users are 404 on every user route', async () => {
    const missing = '/users/0123456789abcdef0123456789abcdef'
    expect((await t.call('GET', missing)).status).toBe(404)
    expect((await t.call('DELETE', missing)).status).toBe(404)
    expect((await t.call('GET', `${missing}/groups`)).status).toBe(404)
    expect((await t.call('POST', `${missing}/groups`, { body: { group: '/a' } })).status).toBe(404)
    expect((await t.call('PUT', `${missing}/groups`, { body: { groups: [] } })).status).toBe(404)
    expect((await t.call('PUT', `${missing}/roles`, { body: { roles: [] } })).status).toBe(404)
  })

  test('DELETE removes the user', async () => {
    const id = await createUser('henry')
    expect((await t.call('DELETE', `/users/${id}`)).body).toEqual({})
    expect((await t.call('GET', `/users/${id}`)).status).toBe(404)
  })

  test('a malformed path parameter matches no route: 404', async () => {
    const r = await t.call('GET', '/users/abc-def')
    expect(r.status).toBe(404)
    expect(r.body).toEqual({ code: 404, error: 'not found' })
  })
})

describe('auth routes are admin only', () => {
  const adminRoutes: [string, string, unknown?][] = [
    ['GET', '/roles'],
    ['PUT', '/roles/x', {}],
    ['GET', '/roles/user'],
    ['DELETE', '/roles/x'],
    ['GET', '/groups'],
    ['POST', '/groups', { name: '/denied' }],
    ['GET', '/groups/x'],
    ['DELETE', '/groups/x'],
    ['GET', '/users'],
    ['POST', '/users', { username: 'denied' }],
    ['GET', '/users/x'],
    ['DELETE', '/users/x'],
    ['GET', '/users/x/groups'],
    ['POST', '/users/x/groups', { group: '/a' }],
    ['PUT', '/users/x/groups', { groups: [] }],
    ['PUT', '/users/x/roles', { roles: [] }],
    ['GET', '/auths/x'],
  ]
  for (const role of ['user', 'system', 'client', 'pilot', 'anonymous']) {
    test(`role ${role} gets 403`, async () => {
      const token = await t.token(role, { groups: ['/simprod'] })
      const before = [t.count('roles'), t.count('groups'), t.count('users')]
      for (const [method, path, body] of adminRoutes) {
        const r = await t.call(method, path, { token, body })
        expect(`${method} ${path} ${r.status}`).toBe(`${method} ${path} 403`)
      }
      expect([t.count('roles'), t.count('groups'), t.count('users')]).toEqual(before)
    })
  }
  test('no token gets 401', async () => {
    for (const [method, path, body] of adminRoutes) {
      expect((await t.call(method, path, { token: null, body })).status).toBe(401)
    }
  })
})

describe('dataset access rules', () => {
  beforeAll(async () => {
    await createGroup('/sim')
    await createGroup('/sim/filtering')
    await createGroup('/other')
    insertDataset('dsrules')
  })

  test('PUT sets the rule (admin, system); GET returns it (admin)', async () => {
    const rule = { read_groups: ['/sim/filtering', '/other'], write_groups: ['/sim/filtering'] }
    expect((await t.call('PUT', '/auths/dsrules', { body: rule })).body).toEqual({})
    expect((await t.call('GET', '/auths/dsrules')).body).toEqual(rule)
    const system = await t.token('system')
    expect((await t.call('PUT', '/auths/dsrules', { token: system, body: rule })).status).toBe(200)
    expect((await t.call('GET', '/auths/dsrules', { token: system })).status).toBe(403)
    expect((await t.call('PUT', '/auths/dsrules', { token: await t.token('client'), body: rule })).status).toBe(403)
  })

  test('PUT errors: missing key 400, unknown group 400, missing dataset 404; nothing changes', async () => {
    const before = (await t.call('GET', '/auths/dsrules')).body
    expect((await t.call('PUT', '/auths/dsrules', { body: { read_groups: [] } })).body.error).toBe('missing key: write_groups')
    expect((await t.call('PUT', '/auths/dsrules', { body: { read_groups: ['/nope'], write_groups: [] } })).status).toBe(400)
    expect((await t.call('PUT', '/auths/nosuchdataset', { body: { read_groups: [], write_groups: [] } })).status).toBe(404)
    expect((await t.call('GET', '/auths/dsrules')).body).toEqual(before)
  })

  test('GET of a dataset without a rule is 404', async () => {
    expect((await t.call('GET', '/auths/nosuchdataset')).status).toBe(404)
  })

  test('actions: groups grant access, path groups grant what lies under them; roles do not count for read', async () => {
    const cases: [string[], string, string, number][] = [
      [['/sim/filtering'], 'read', 'dsrules', 200],
      [['/sim/filtering'], 'write', 'dsrules', 200],
      [['/sim'], 'read', 'dsrules', 200], // parent path group
      [['/sim'], 'write', 'dsrules', 200],
      [['/other'], 'read', 'dsrules', 200],
      [['/other'], 'write', 'dsrules', 403],
      [['/si'], 'read', 'dsrules', 403], // a name prefix is not a parent path
      [[], 'read', 'dsrules', 403],
      [['/sim'], 'read', 'nosuchdataset', 403],
    ]
    for (const [groups, action, dataset, status] of cases) {
      const token = await t.token('anonymous', { groups })
      const r = await t.call('GET', `/auths/${dataset}/actions/${action}`, { token })
      expect(`${groups} ${action} ${dataset} ${r.status}`).toBe(`${groups} ${action} ${dataset} ${status}`)
      if (status === 200) expect(r.body).toEqual({})
    }
    // An admin token without groups has no read access here.
    expect((await t.call('GET', '/auths/dsrules/actions/read')).status).toBe(403)
  })

  test('write: admins may write every dataset that exists, as they may run its actions; no other role counts', async () => {
    const adminToken = await t.token('admin', { groups: [] })
    expect(await t.call('GET', '/auths/dsrules/actions/write', { token: adminToken })).toMatchObject({ status: 200, body: {} })
    expect((await t.call('GET', '/auths/nosuchdataset/actions/write', { token: adminToken })).status).toBe(403)
    for (const role of ['user', 'system', 'client', 'pilot', 'anonymous']) {
      const token = await t.token(role, { groups: ['/other'] })
      expect(`${role} ${(await t.call('GET', '/auths/dsrules/actions/write', { token })).status}`).toBe(`${role} 403`)
      // What the route answers is what the actions do.
      expect(`${role} ${(await t.call('POST', '/datasets/dsrules/dataset_actions/resume', { token, body: {} })).status}`).toBe(`${role} 403`)
    }
    const member = await t.token('user', { groups: ['/sim/filtering'] })
    expect((await t.call('GET', '/auths/dsrules/actions/write', { token: member })).status).toBe(200)
  })

  test('an unknown action word is 400; no token is 401', async () => {
    const token = await t.token('user', { groups: ['/sim'] })
    expect((await t.call('GET', '/auths/dsrules/actions/delete', { token })).status).toBe(400)
    expect((await t.call('GET', '/auths/dsrules/actions/read', { token: null })).status).toBe(401)
  })
})

describe('/create_token', () => {
  let adminUserToken: string
  let plainUserToken: string
  beforeAll(async () => {
    await createGroup('/tok')
    await createUser('tokadmin', ['admin', 'user'], ['/tok'])
    await createUser('tokuser', ['user'], ['/tok'])
    await createUser('tokclient', ['client'])
    adminUserToken = await t.token('admin', { username: 'tokadmin' })
    plainUserToken = await t.token('user', { username: 'tokuser', ttl: 3000 })
  })

  test('default: a temp token with the same role and the user\'s stored groups, capped by the temp TTL', async () => {
    const r = await t.call('POST', '/create_token', { token: plainUserToken, body: {} })
    expect(r.status).toBe(200)
    const claims = claimsOf(r.body.result)
    expect(claims).toMatchObject({ type: 'temp', role: 'user', username: 'tokuser', groups: ['/tok'], iss: 'IceProd' })
    expect(claims.exp - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(600)
    expect((await t.call('GET', '/auths/x/actions/read', { token: r.body.result })).status).toBe(403) // a working token
  })

  test('exp: at most the remaining lifetime, never negative', async () => {
    const ok = await t.call('POST', '/create_token', { token: plainUserToken, body: { exp: 60 } })
    expect(claimsOf(ok.body.result).exp - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(60)
    expect((await t.call('POST', '/create_token', { token: plainUserToken, body: { exp: -1 } })).status).toBe(400)
    expect((await t.call('POST', '/create_token', { token: plainUserToken, body: { exp: 4000 } })).status).toBe(400)
    expect((await t.call('POST', '/create_token', { token: plainUserToken, body: { exp: '60' } })).body.error).toBe('key exp must be an integer')
  })

  test('temp: the role must be user or admin and held by the user', async () => {
    expect((await t.call('POST', '/create_token', { token: plainUserToken, body: { role: 'admin' } })).status).toBe(400)
    const r = await t.call('POST', '/create_token', { token: adminUserToken, body: { role: 'user' } })
    expect(claimsOf(r.body.result)).toMatchObject({ type: 'temp', role: 'user' })
  })

  test('user: switch between user and admin, only for users holding admin', async () => {
    const r = await t.call('POST', '/create_token', { token: adminUserToken, body: { type: 'user', role: 'user' } })
    expect(claimsOf(r.body.result)).toMatchObject({ type: 'user', role: 'user', username: 'tokadmin', groups: ['/tok'] })
    expect((await t.call('POST', '/create_token', { token: plainUserToken, body: { type: 'user', role: 'admin' } })).status).toBe(400)
    expect((await t.call('POST', '/create_token', { token: adminUserToken, body: { type: 'user', role: 'pilot' } })).status).toBe(400)
  })

  test('system: admin mints system or client, client mints pilot; groups empty', async () => {
    for (const role of ['system', 'client']) {
      const r = await t.call('POST', '/create_token', { token: adminUserToken, body: { type: 'system', role } })
      expect(claimsOf(r.body.result)).toMatchObject({ type: 'system', role, groups: [] })
    }
    expect((await t.call('POST', '/create_token', { token: adminUserToken, body: { type: 'system', role: 'pilot' } })).status).toBe(400)
    const client = await t.token('client', { username: 'tokclient', type: 'system' })
    const pilot = await t.call('POST', '/create_token', { token: client, body: { type: 'system', role: 'pilot' } })
    expect(claimsOf(pilot.body.result)).toMatchObject({ type: 'system', role: 'pilot' })
    expect((await t.call('GET', '/healthz', { token: pilot.body.result })).status).toBe(200)
    expect((await t.call('POST', '/create_token', { token: client, body: { type: 'system', role: 'client' } })).status).toBe(400)
  })

  test('refused: from a temp token, for an unknown user, an unknown type; pilots may not call it', async () => {
    const temp = (await t.call('POST', '/create_token', { token: plainUserToken, body: {} })).body.result
    expect((await t.call('POST', '/create_token', { token: await t.token('user', { username: 'tokuser', type: 'temp' }), body: {} })).status).toBe(400)
    expect((await t.call('POST', '/create_token', { token: temp, body: {} })).status).toBe(400)
    expect((await t.call('POST', '/create_token', { token: await t.token('user', { username: 'ghost' }), body: {} })).status).toBe(400)
    expect((await t.call('POST', '/create_token', { token: adminUserToken, body: { type: 'root' } })).status).toBe(400)
    expect((await t.call('POST', '/create_token', { token: await t.token('pilot'), body: {} })).status).toBe(403)
    expect((await t.call('POST', '/create_token', { token: await t.token('system', { username: 'tokadmin' }), body: {} })).status).toBe(403)
  })
})
