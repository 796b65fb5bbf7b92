/**
 * The SQL executor both stores run on. Queries are written once with `?` placeholders and the same
 * SQL for both dialects (TEXT, BIGINT, INSERT ... ON CONFLICT, UPDATE ... RETURNING). An array parameter
 * (`?::text[]`) is for PostgreSQL-only statements.
 */
export type Param = string | number | null | readonly (string | number | boolean | null)[];
export type Row = Record<string, unknown>;

export interface Queryable {
  /** Rows of a SELECT or of a statement with RETURNING. */
  all<T = Row>(sql: string, params?: readonly Param[]): Promise<T[]>;
  /**
   * The same rows, each as an array of its values in the order of the statement's columns: for the
   * hottest reads, as an array is built faster than an object with a property for each column.
   */
  arrays(sql: string, params?: readonly Param[]): Promise<unknown[][]>;
  /** Runs a statement and returns the number of rows it changed. */
  run(sql: string, params?: readonly Param[]): Promise<number>;
  /** Runs raw DDL (several statements, no parameters). */
  exec(sql: string): Promise<void>;
}

/** What a database reports about itself to the metrics (see metrics/metrics.ts). */
export interface DbObserver {
  /** A statement outside a transaction took this many milliseconds. */
  query(ms: number): void;
  /** A whole transaction took this many milliseconds, from the call to its commit or rollback. */
  transaction(ms: number): void;
  /** SQLite group commit: this many transactions shared one COMMIT. */
  batch(size: number): void;
  /** PostgreSQL: this many calls of `statement` (store/batcher.ts) shared one statement. */
  grouped(statement: string, size: number): void;
}

/** What a process may keep copies of (see Db.changeVersion). */
export type CachedState = 'clients' | 'sessions';

/** PostgreSQL: the channel the triggers notify after each statement that changes each such state. */
export const CHANGE_CHANNELS: Record<CachedState, string> = {
  clients: 'paddock_clients_changed',
  sessions: 'paddock_sessions_changed',
};

/** PostgreSQL pool occupancy. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

export interface TransactionOptions {
  /**
   * Waits as long as the work takes instead of the store timeout: for migrations, which may lock or
   * rewrite large tables while other processes wait for them.
   */
  unbounded?: boolean;
}

export interface Db extends Queryable {
  readonly dialect: 'sqlite' | 'postgres';
  /** Told of timings and batch sizes when metrics are on; undefined otherwise. */
  observer?: DbObserver;
  /** PostgreSQL only: how many pooled connections are open, idle and awaited. */
  poolStats?(): PoolStats;
  /**
   * SQLite: a serving process moves WAL checkpoints off its event loop and keeps the WAL file within
   * walLimitBytes (see SqliteDb).
   */
  checkpointInBackground?(walLimitBytes: number): void;
  /**
   * A number that is different once what a process may keep of `what` has changed, in this process or
   * any other, or undefined when the store cannot tell right now (then nothing may be served from a
   * copy): clients, or sessions (their state and their users', as the bearer check reads them).
   * SQLite reads a count its triggers keep; PostgreSQL counts its triggers' notifications.
   */
  changeVersion(what: CachedState): Promise<number | undefined>;
  /** Runs fn in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}

/**
 * The database cannot serve now (down, restarting, unreachable, too slow, locked by someone else): the
 * same request may succeed later. The one error of the store that callers tell apart; http/ answers it
 * with 503 temporarily_unavailable.
 */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  /** The driver's code (ECONNREFUSED, 57P01, SQLITE_BUSY, ...), for the log. */
  readonly code: string | undefined;

  constructor(cause: unknown) {
    super('the database is unavailable', { cause });
    this.code = (cause as { code?: string })?.code;
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// node-postgres reports a lost or refused connection, its own timeouts and a closed pool with plain Errors.
const PG_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect|Query read timeout|Cannot use a pool after calling end)/;

/**
 * True for failures of availability rather than of the statement: the connection is refused, lost or timed
 * out; PostgreSQL is shutting down, starting up, out of connections or resources, or read-only after a
 * failover; a statement ran past statement_timeout; SQLite stayed locked or failed to do I/O.
 */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code)) return true;
  // SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57P0x (shutdown, starting up),
  // 57014 (statement_timeout), 25006 (read-only transaction: a standby).
  if (/^(08...|53...|57P0.|57014|25006)$/.test(code)) return true;
  if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN)/.test(code)) return true;
  return !code && typeof e?.message === 'string' && PG_MESSAGES.test(e.message);
}

/** The error to throw: unavailability becomes a StoreUnavailableError, anything else stays as it is. */
export function storeError(err: unknown): unknown {
  return err instanceof StoreUnavailableError || !isUnavailable(err) ? err : new StoreUnavailableError(err);
}

export async function one<T = Row>(
  q: Queryable,
  sql: string,
  params?: readonly Param[],
): Promise<T | undefined> {
  const rows = await q.all<T>(sql, params);
  return rows[0];
}

/** True for a unique-constraint violation in either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return (
    e?.code === '23505' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

/** The SET list of a partial update: given fields only (JSON columns serialised), plus updated_at. */
export function assignments(patch: object, jsonColumns: readonly string[], now: number) {
  const sets: string[] = [];
  const params: Param[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    sets.push(`${k} = ?`);
    params.push(jsonColumns.includes(k) ? JSON.stringify(v) : (v as Param));
  }
  sets.push('updated_at = ?');
  params.push(now);
  return { sets: sets.join(', '), params };
}
