/**
 * Roles, groups, users and dataset access rules (token minting: see minting.ts).
 */
import type { DatasetRule, DatasetRules } from '../../auth/access'
import { ROLES } from '../../auth/roles'
import { writeTx, type Db } from '../../db'
import { newId, type Document } from '../../db/documents'
import { fail } from '../../errors'
import type { AuthModel } from './model'
import { authQueries } from './queries'

export type NewRole = typeof AuthModel.roleBody.static
export type NewGroup = typeof AuthModel.groupBody.static
export type NewUser = typeof AuthModel.userBody.static

/** A stored user. */
export interface User extends Document {
  user_id: string
  username: string
  roles: string[]
  groups: string[]
}

const BUILT_IN_ROLES: readonly string[] = ROLES
const parse = <T = Document>(row: { doc: string } | undefined): T | undefined => (row ? (JSON.parse(row.doc) as T) : undefined)
const parseAll = (rows: { doc: string }[]): Document[] => rows.map((row) => JSON.parse(row.doc))

export class AuthService implements DatasetRules {
  private readonly queries

  constructor(private readonly db: Db) {
    this.queries = authQueries(db)
  }

  // ---- roles ----

  listRoles(): Document[] {
    return parseAll(this.queries.roles.all())
  }

  getRole(name: string): Document {
    return parse(this.queries.role.get({ name })) ?? fail(404, `role ${name} not found`)
  }

  async putRole(name: string, body: NewRole): Promise<void> {
    if ('name' in body && body.name !== name) fail(400, 'key name must match the role in the path')
    await writeTx(this.db, () => this.queries.putRole.run({ name, doc: JSON.stringify({ ...body, name }) }))
  }

  async deleteRole(name: string): Promise<void> {
    if (BUILT_IN_ROLES.includes(name)) fail(400, `built-in role ${name} cannot be deleted`)
    await writeTx(this.db, () => {
      this.getRole(name)
      this.queries.deleteRole.run({ name })
      this.removeFromUsers('roles', name)
    })
  }

  private checkRolesExist(names: string[]): void {
    for (const name of names) {
      if (!this.queries.role.get({ name })) fail(400, `no such role: ${name}`)
    }
  }

  // ---- groups ----

  listGroups(): Document[] {
    return parseAll(this.queries.groups.all())
  }

  getGroup(groupId: string): Document {
    return parse(this.queries.group.get({ group_id: groupId })) ?? fail(404, `group ${groupId} not found`)
  }

  groupExists(name: string): boolean {
    return this.queries.groupNamed.get({ name }) !== undefined
  }

  createGroup(body: NewGroup): Promise<string> {
    if (body.name === '') fail(400, 'key name must not be empty')
    return writeTx(this.db, () => {
      if (this.groupExists(body.name)) fail(409, `group ${body.name} already exists`)
      const groupId = newId()
      this.queries.insertGroup.run({ group_id: groupId, doc: JSON.stringify({ ...body, group_id: groupId }) })
      return groupId
    })
  }

  async deleteGroup(groupId: string): Promise<void> {
    await writeTx(this.db, () => {
      const name = this.getGroup(groupId).name as string
      this.queries.deleteGroup.run({ group_id: groupId })
      this.removeFromUsers('groups', name)
      for (const row of this.queries.rules.all()) {
        const rule = JSON.parse(row.doc) as DatasetRule
        if (!rule.read_groups.includes(name) && !rule.write_groups.includes(name)) continue
        rule.read_groups = rule.read_groups.filter((g) => g !== name)
        rule.write_groups = rule.write_groups.filter((g) => g !== name)
        this.queries.putRule.run({ dataset_id: row.dataset_id, doc: JSON.stringify(rule) })
      }
    })
  }

  private checkGroupsExist(names: string[]): void {
    for (const name of names) if (!this.groupExists(name)) fail(400, `no such group: ${name}`)
  }

  // ---- users ----

  listUsers(): Document[] {
    return parseAll(this.queries.users.all())
  }

  getUser(userId: string): User {
    return parse<User>(this.queries.user.get({ user_id: userId })) ?? fail(404, `user ${userId} not found`)
  }

  userByName(username: string): User | undefined {
    return parse<User>(this.queries.userNamed.get({ username }))
  }

  createUser(body: NewUser): Promise<string> {
    if (body.username === '') fail(400, 'key username must not be empty')
    return writeTx(this.db, () => {
      if (this.userByName(body.username)) fail(409, `user ${body.username} already exists`)
      this.checkRolesExist(body.roles ?? [])
      this.checkGroupsExist(body.groups ?? [])
      const userId = newId()
      const doc = { ...body, user_id: userId, roles: unique(body.roles ?? []), groups: unique(body.groups ?? []) }
      this.queries.insertUser.run({ user_id: userId, doc: JSON.stringify(doc) })
      return userId
    })
  }

  async deleteUser(userId: string): Promise<void> {
    await writeTx(this.db, () => {
      this.getUser(userId)
      this.queries.deleteUser.run({ user_id: userId })
    })
  }

  async addUserGroup(userId: string, group: string): Promise<void> {
    await writeTx(this.db, () => {
      const user = this.getUser(userId)
      this.checkGroupsExist([group])
      if (!user.groups.includes(group)) this.saveUser({ ...user, groups: [...user.groups, group] })
    })
  }

  async setUserList(userId: string, field: 'groups' | 'roles', names: string[]): Promise<void> {
    await writeTx(this.db, () => {
      const user = this.getUser(userId)
      if (field === 'groups') this.checkGroupsExist(names)
      else this.checkRolesExist(names)
      this.saveUser({ ...user, [field]: unique(names) })
    })
  }

  hasUsers(): boolean {
    return this.queries.anyUser.get() !== undefined
  }

  /** The user named `username`, created with no roles and no groups if missing. */
  findOrCreateUser(username: string): Promise<User> {
    return writeTx(this.db, () => {
      const existing = this.userByName(username)
      if (existing) return existing
      const userId = newId()
      const user: User = { user_id: userId, username, roles: [], groups: [] }
      this.queries.insertUser.run({ user_id: userId, doc: JSON.stringify(user) })
      return user
    })
  }

  private saveUser(user: User): void {
    this.queries.saveUser.run({ user_id: user.user_id, doc: JSON.stringify(user) })
  }

  private removeFromUsers(field: 'roles' | 'groups', name: string): void {
    for (const row of this.queries.usersHolding.all({ path: '$.' + field, name })) {
      const user = JSON.parse(row.doc) as User
      this.saveUser({ ...user, [field]: user[field].filter((n) => n !== name) })
    }
  }

  // ---- dataset access rules ----

  exists(datasetId: string): boolean {
    return this.queries.datasetExists.get({ dataset_id: datasetId }) !== undefined
  }

  rule(datasetId: string): DatasetRule | undefined {
    return parse<DatasetRule>(this.queries.rule.get({ dataset_id: datasetId }))
  }

  getRule(datasetId: string): DatasetRule {
    return this.rule(datasetId) ?? fail(404, `no access rule for dataset ${datasetId}`)
  }

  async putRule(datasetId: string, rule: DatasetRule): Promise<void> {
    await writeTx(this.db, () => {
      if (!this.exists(datasetId)) fail(404, `dataset ${datasetId} not found`)
      this.checkGroupsExist([...rule.read_groups, ...rule.write_groups])
      this.setRule(datasetId, rule)
    })
  }

  /** Sets a dataset's rule without checks; for use inside a caller's transaction. */
  setRule(datasetId: string, rule: DatasetRule): void {
    const doc = JSON.stringify({ read_groups: unique(rule.read_groups), write_groups: unique(rule.write_groups) })
    this.queries.putRule.run({ dataset_id: datasetId, doc })
  }

}

const unique = (names: string[]) => [...new Set(names)]
