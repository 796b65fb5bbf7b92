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

/**
 * Which database the configuration names, as a server says at start-up: the SQLite file, or PostgreSQL's
 * host, port and database. Never the URL's user name, password or other parameters (credentials).
 */
export function storeDescription(
  config: Config,
):
  | { store: 'sqlite'; file: string }
  | { store: 'postgres'; host?: string; port?: number; database?: string } {
  if (!config.databaseUrl) return { store: 'sqlite', file: sqliteFile(config) };
  let url: URL;
  try {
    url = new URL(config.databaseUrl);
  } catch {
    // A form the driver reads but a URL parser does not (user@/?host=...): say no more than the kind.
    return { store: 'postgres' };
  }
  const database = decodeURIComponent(url.pathname.slice(1));
  return {
    store: 'postgres',
    // A Unix socket's directory may be given as ?host=, as libpq allows.
    host: url.searchParams.get('host') || decodeURIComponent(url.hostname) || 'localhost',
    port: Number(url.port || 5432),
    // Without one in the URL, the driver's default (PGDATABASE, else the user's name).
    ...(database ? { database } : {}),
  };
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
