/**
 * The SQL executor both stores run on. Queries are written once with `?` placeholders and the same
 * SQL for both dialects (TEXT, BIGINT, INSERT ... ON CONFLICT, UPDATE ... RETURNING).
 */
export type Param = string | number | null;
export type Row = Record<string, unknown>;

export interface Queryable {
  /** Rows of a SELECT or of a statement with RETURNING. */
  all<T = Row>(sql: string, params?: readonly Param[]): Promise<T[]>;
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
}

/** PostgreSQL pool occupancy. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

export interface Db extends Queryable {
  readonly dialect: 'sqlite' | 'postgres';
  /** Told of timings and batch sizes when metrics are on; undefined otherwise. */
  observer?: DbObserver;
  /** PostgreSQL only: how many pooled connections are open, idle and awaited. */
  poolStats?(): PoolStats;
  /** Runs fn in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
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
