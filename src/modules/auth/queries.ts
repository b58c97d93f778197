/** The auth module's queries (see db/query.ts): roles, groups, users and dataset access rules. */
import { eq, sql } from 'drizzle-orm'
import type { Db } from '../../db'
import { prepared } from '../../db/query'
import { auths, datasets, groups, roles, users } from '../../db/schema'

const p = sql.placeholder

export function authQueries(db: Db) {
  return {
    roles: prepared(db, () => db.select({ doc: roles.doc }).from(roles).orderBy(sql`${roles}.rowid`)),
    role: prepared(db, () => db.select({ doc: roles.doc }).from(roles).where(eq(roles.name, p('name')))),
    putRole: prepared(db, () =>
      db
        .insert(roles)
        .values({ name: p('name'), doc: p('doc') })
        .onConflictDoUpdate({ target: roles.name, set: { doc: sql`excluded.doc` } }),
    ),
    deleteRole: prepared(db, () => db.delete(roles).where(eq(roles.name, p('name')))),

    groups: prepared(db, () => db.select({ doc: groups.doc }).from(groups).orderBy(sql`${groups}.rowid`)),
    group: prepared(db, () => db.select({ doc: groups.doc }).from(groups).where(eq(groups.groupId, p('group_id')))),
    groupNamed: prepared(db, () => db.select({ group_id: groups.groupId }).from(groups).where(eq(groups.name, p('name')))),
    insertGroup: prepared(db, () => db.insert(groups).values({ groupId: p('group_id'), doc: p('doc') })),
    deleteGroup: prepared(db, () => db.delete(groups).where(eq(groups.groupId, p('group_id')))),

    users: prepared(db, () => db.select({ doc: users.doc }).from(users).orderBy(sql`${users}.rowid`)),
    user: prepared(db, () => db.select({ doc: users.doc }).from(users).where(eq(users.userId, p('user_id')))),
    userNamed: prepared(db, () => db.select({ doc: users.doc }).from(users).where(eq(users.username, p('username')))),
    anyUser: prepared(db, () => db.select({ user_id: users.userId }).from(users).limit(1)),
    /** Users whose list at `path` (`$.roles` or `$.groups`) holds `name`. */
    usersHolding: prepared(db, () =>
      db
        .select({ doc: users.doc })
        .from(users)
        .where(sql`EXISTS (SELECT 1 FROM json_each(${users.doc}, ${p('path')}) WHERE value = ${p('name')})`),
    ),
    insertUser: prepared(db, () => db.insert(users).values({ userId: p('user_id'), doc: p('doc') })),
    saveUser: prepared(db, () => db.update(users).set({ doc: sql`${p('doc')}` }).where(eq(users.userId, p('user_id')))),
    deleteUser: prepared(db, () => db.delete(users).where(eq(users.userId, p('user_id')))),

    datasetExists: prepared(db, () => db.select({ dataset_id: datasets.datasetId }).from(datasets).where(eq(datasets.datasetId, p('dataset_id')))),
    rule: prepared(db, () => db.select({ doc: auths.doc }).from(auths).where(eq(auths.datasetId, p('dataset_id')))),
    rules: prepared(db, () => db.select({ dataset_id: auths.datasetId, doc: auths.doc }).from(auths)),
    putRule: prepared(db, () =>
      db
        .insert(auths)
        .values({ datasetId: p('dataset_id'), doc: p('doc') })
        .onConflictDoUpdate({ target: auths.datasetId, set: { doc: sql`excluded.doc` } }),
    ),
  }
}
