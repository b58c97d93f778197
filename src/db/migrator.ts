import { createHash } from 'node:crypto'
import type { MigrationMeta } from 'drizzle-orm/migrator'
import type { Db } from './index'
import { journal, migrationSql } from './migrations.gen'

/** The migrations embedded in the program, in drizzle's own format (same hashes as drizzle-kit). */
export function embeddedMigrations(): MigrationMeta[] {
  return journal.entries.map((entry) => {
    const query = migrationSql[entry.tag]
    if (query === undefined) throw new Error(`migration ${entry.tag} is not embedded; run bun run db:generate`)
    return {
      sql: query.split('--> statement-breakpoint'),
      bps: entry.breakpoints,
      folderMillis: entry.when,
      hash: createHash('sha256').update(query).digest('hex'),
    }
  })
}

/** Applies pending migrations; returns how many were applied. */
export function migrate(db: Db): number {
  const internal = db as unknown as { dialect: { migrate(m: MigrationMeta[], s: unknown, c: object): void }; session: unknown }
  const applied = () => (db.$client.query('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n
  const hasTable = db.$client.query("SELECT 1 FROM sqlite_master WHERE name = '__drizzle_migrations'").get()
  const before = hasTable ? applied() : 0
  internal.dialect.migrate(embeddedMigrations(), internal.session, {})
  return applied() - before
}
