import { type Db, isUniqueViolation, one, type Queryable } from './db.ts';
import { MIGRATIONS } from './schema.ts';

export { MIGRATIONS };

/** The DDL of a migration for this database's dialect. */
export function migrationSql(m: (typeof MIGRATIONS)[number], dialect: Db['dialect']): string {
  return typeof m.sql === 'string' ? m.sql : m.sql[dialect];
}

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Applies pending migrations; safe when several processes start at once. Returns the versions applied. */
export async function migrate(db: Db, now: number): Promise<number[]> {
  await createMigrationsTable(db);
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    try {
      const done = await db.transaction(
        async (tx) => {
          if (await one(tx, 'SELECT version FROM schema_migrations WHERE version = ?', [m.version]))
            return false;
          // On PostgreSQL a concurrent migrator blocks on this insert until we commit, then fails on the key.
          await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
            m.version,
            m.name,
            now,
          ]);
          await tx.exec(migrationSql(m, db.dialect));
          return true;
        },
        { unbounded: true },
      );
      if (done) applied.push(m.version);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }
  return applied;
}

async function createMigrationsTable(db: Db): Promise<void> {
  const ddl =
    'CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)';
  for (let attempt = 0; ; attempt++) {
    try {
      await db.exec(ddl);
      return;
    } catch (err) {
      // PostgreSQL's IF NOT EXISTS races on its catalog when two processes create the table at once:
      // the loser sees a unique violation, a duplicate type (42710) or a duplicate table (42P07).
      const code = (err as { code?: string }).code;
      const race = isUniqueViolation(err) || code === '42710' || code === '42P07';
      if (!race || attempt >= 3) throw err;
    }
  }
}

/** Versions this code knows that the database has not applied: one cheap read, for readiness. */
export async function pendingMigrations(db: Queryable): Promise<number[]> {
  const rows = await db.all<{ version: number }>('SELECT version FROM schema_migrations');
  const applied = new Set(rows.map((r) => Number(r.version)));
  return MIGRATIONS.map((m) => m.version).filter((v) => !applied.has(v));
}

export async function schemaVersion(db: Db): Promise<number> {
  await createMigrationsTable(db);
  const row = await one<{ v: number | null }>(db, 'SELECT MAX(version) AS v FROM schema_migrations');
  return Number(row?.v ?? 0);
}
