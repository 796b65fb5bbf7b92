import path from 'node:path';
import type { Config } from '../config.ts';
import { privateDataDir } from './data-dir.ts';
import { migrate } from './migrations.ts';
import { SqliteDb } from './sqlite.ts';
import { Store } from './store.ts';

export { StoreUnavailableError } from './db.ts';
export { Store } from './store.ts';

export function sqliteFile(config: Config): string {
  return path.join(config.dataDir, 'paddock.db');
}

/** Opens the configured database (PostgreSQL when DATABASE_URL is set, else SQLite) and migrates it. */
export async function openStore(
  config: Config,
  now: number,
  options: { migrate?: boolean } = {},
): Promise<Store> {
  if (!config.databaseUrl) privateDataDir(config.dataDir);
  // The PostgreSQL driver is loaded only for PostgreSQL (a SQLite command line does not pay for it).
  const db = config.databaseUrl
    ? new (await import('./postgres.ts')).PostgresDb(config.databaseUrl, {
        poolSize: config.pgPoolSize,
        timeoutMs: config.storeTimeout * 1000,
      })
    : new SqliteDb(sqliteFile(config), config.sqliteSynchronous, config.storeTimeout * 1000);
  if (options.migrate !== false) {
    try {
      await migrate(db, now);
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  return new Store(db);
}
