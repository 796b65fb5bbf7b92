import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  type CachedState,
  type Db,
  type DbObserver,
  isUnavailable,
  type Param,
  type PoolStats,
  type Queryable,
  storeError,
  type TransactionOptions,
} from './db.ts';
import { ChangeListener } from './pg-changes.ts';

// BIGINT columns hold seconds since the epoch and small counters: safe as JavaScript numbers.
pg.types.setTypeParser(20, (v) => Number(v));

const converted = new Map<string, { name: string; text: string }>();

/** Rewrites `?` placeholders to `$n` and names the statement, so pg prepares it once per connection. */
function prepared(sql: string): { name: string; text: string } {
  let p = converted.get(sql);
  if (!p) {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    p = { name: `q_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text };
    converted.set(sql, p);
  }
  return p;
}

/** `ran`, when given, collects the SQL of every statement that succeeded (a transaction's, for after COMMIT). */
function queryable(
  client: pg.Pool | pg.PoolClient,
  timeoutMs: number | undefined,
  ran?: string[],
): Queryable {
  // The driver's own read timeout also bounds a connection that went silent (a partition), which the
  // server's statement_timeout cannot.
  const limit = timeoutMs === undefined ? {} : { query_timeout: timeoutMs };
  return {
    async all<T>(sql: string, params: readonly Param[] = []) {
      const p = prepared(sql);
      try {
        const res = await client.query({ name: p.name, text: p.text, values: params as Param[], ...limit });
        ran?.push(sql);
        return res.rows as T[];
      } catch (err) {
        throw storeError(err);
      }
    },
    async arrays(sql: string, params: readonly Param[] = []) {
      const p = prepared(sql);
      try {
        const res = await client.query({
          name: p.name,
          text: p.text,
          values: params as Param[],
          rowMode: 'array',
          ...limit,
        });
        ran?.push(sql);
        return res.rows as unknown[][];
      } catch (err) {
        throw storeError(err);
      }
    },
    async run(sql: string, params: readonly Param[] = []) {
      const p = prepared(sql);
      try {
        const res = await client.query({ name: p.name, text: p.text, values: params as Param[], ...limit });
        ran?.push(sql);
        return res.rowCount ?? 0;
      } catch (err) {
        throw storeError(err);
      }
    },
    async exec(sql: string) {
      try {
        await client.query({ text: sql, ...limit });
      } catch (err) {
        throw storeError(err);
      }
    },
  };
}

/**
 * Every statement is prepared once per connection; this has PostgreSQL plan it once too. By default it
 * plans again at each run for as long as a plan for the values at hand looks cheaper than the generic
 * one, and for the batched statements (one array per column, unnested: see batcher.ts) it does not stop:
 * their generic plan counts on ten rows per array. On a store of 20,000 refresh tokens the rotation was
 * planned at every run, for batches of one and of three, into the same index lookups each time, and the
 * planning cost PostgreSQL more than the statement (refresh load at c=10 with two workers: 0.45 ms of its
 * CPU per refresh, 0.23 ms with generic plans). The requests' statements find rows by key, where a
 * generic plan is what a custom one would be; only admin listings and the hourly sweeps read ranges. An
 * engine without the setting (PostgreSQL before 12, some compatible ones) refuses it and plans as before.
 */
async function planOnce(client: pg.ClientBase): Promise<void> {
  await client.query('SET plan_cache_mode = force_generic_plan').catch(() => {});
}

export interface PostgresOptions {
  poolSize: number;
  /** Bounds getting a connection and each statement; a request is answered 503 rather than kept waiting. */
  timeoutMs: number;
}

export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  observer: DbObserver | undefined;
  private readonly pool: pg.Pool;
  private readonly q: Queryable;
  private readonly queryTimeout: number;
  /** What tells this process that state it keeps copies of has changed (Db.changeVersion). */
  private readonly changes: ChangeListener;

  constructor(url: string, options: PostgresOptions) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize,
      connectionTimeoutMillis: options.timeoutMs,
      // The server cancels a statement that runs too long (57014) and the connection stays usable; the
      // driver's read timeout, a little later, only fires when the server cannot answer at all.
      statement_timeout: options.timeoutMs,
      keepAlive: true,
      // Awaited before the pool hands the connection out.
      onConnect: planOnce,
    });
    this.queryTimeout = options.timeoutMs + 500;
    this.changes = new ChangeListener(url, this.queryTimeout);
    // An idle client that loses its connection (the database restarts) must not crash the process; the
    // pool drops it and opens a new one on demand.
    this.pool.on('error', () => {});
    this.q = queryable(this.pool, this.queryTimeout);
  }

  all<T>(sql: string, params?: readonly Param[]): Promise<T[]> {
    return this.timed(sql, () => this.q.all<T>(sql, params));
  }

  arrays(sql: string, params?: readonly Param[]): Promise<unknown[][]> {
    return this.timed(sql, () => this.q.arrays(sql, params));
  }

  run(sql: string, params?: readonly Param[]): Promise<number> {
    return this.timed(sql, () => this.q.run(sql, params));
  }

  /** A statement outside a transaction: timed for the metrics, and heard of by the change listener. */
  private async timed<T>(sql: string, statement: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      const result = await statement();
      this.changes.wrote(sql);
      return result;
    } finally {
      this.observer?.query(performance.now() - start);
    }
  }

  poolStats(): PoolStats {
    const p = this.pool;
    return { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount, max: p.options.max };
  }

  /** Timed from the call, so waiting for a pooled connection counts. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (!this.observer) return this.runTransaction(fn, options);
    const start = performance.now();
    return this.runTransaction(fn, options).finally(() =>
      this.observer?.transaction(performance.now() - start),
    );
  }

  private async runTransaction<T>(
    fn: (tx: Queryable) => Promise<T>,
    options: TransactionOptions,
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw storeError(err);
    }
    // A checked-out client has no listener of the pool's: without one, a connection ended by the server
    // (57P01 when PostgreSQL stops) is an unhandled 'error' event that kills the process (node-postgres #2386).
    let broken: unknown;
    const onError = (err: unknown) => {
      broken = err;
    };
    client.on('error', onError);
    const statements: string[] = [];
    const q = queryable(client, options.unbounded ? undefined : this.queryTimeout, statements);
    let failure: unknown;
    try {
      await q.exec('BEGIN');
      if (options.unbounded) await q.exec('SET LOCAL statement_timeout = 0');
      const result = await fn(q);
      await q.exec('COMMIT');
      for (const sql of statements) this.changes.wrote(sql);
      return result;
    } catch (err) {
      failure = err;
      // A lost or stuck connection is not rolled back but discarded: the server rolls back when it goes.
      if (!broken && !isUnavailable(err)) await q.exec('ROLLBACK').catch((e) => (broken = e));
      throw err;
    } finally {
      client.release(broken || isUnavailable(failure) ? true : undefined);
      client.removeListener('error', onError);
    }
  }

  exec(sql: string): Promise<void> {
    return this.q.exec(sql);
  }

  async changeVersion(what: CachedState): Promise<number | undefined> {
    return this.changes.version(what);
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.changes.close()]);
  }
}
