import type { Database } from 'bun:sqlite'
import { drizzle } from 'drizzle-orm/bun-sqlite'
import type { MigrationMeta } from 'drizzle-orm/migrator'
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
      hash: new Bun.CryptoHasher('sha256').update(query).digest('hex'),
    }
  })
}

/**
 * Applies pending migrations on the connection; returns how many were applied.
 * drizzle's own migrator reads migrations from files; this hands its dialect
 * the embedded ones.
 */
export function migrate(sqlite: Database): number {
  const internal = drizzle({ client: sqlite }) as unknown as { dialect: { migrate(m: MigrationMeta[], s: unknown, c: object): void }; session: unknown }
  const applied = () => (sqlite.query('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n
  const hasTable = sqlite.query("SELECT 1 FROM sqlite_master WHERE name = '__drizzle_migrations'").get()
  const before = hasTable ? applied() : 0
  internal.dialect.migrate(embeddedMigrations(), internal.session, {})
  return applied() - before
}
