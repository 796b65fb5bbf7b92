import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  type Db,
  type DbObserver,
  isUnavailable,
  type Param,
  type PoolStats,
  type Queryable,
  storeError,
  type TransactionOptions,
} from './db.ts';

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

function queryable(client: pg.Pool | pg.PoolClient, timeoutMs: number | undefined): Queryable {
  // The driver's own read timeout also bounds a connection that went silent (a partition), which the
  // server's statement_timeout cannot.
  const limit = timeoutMs === undefined ? {} : { query_timeout: timeoutMs };
  return {
    async all<T>(sql: string, params: readonly Param[] = []) {
      const p = prepared(sql);
      try {
        const res = await client.query({ name: p.name, text: p.text, values: params as Param[], ...limit });
        return res.rows as T[];
      } catch (err) {
        throw storeError(err);
      }
    },
    async run(sql: string, params: readonly Param[] = []) {
      const p = prepared(sql);
      try {
        const res = await client.query({ name: p.name, text: p.text, values: params as Param[], ...limit });
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

export interface PostgresOptions {
  poolSize: number;
  /** Bounds getting a connection and each statement; a request is answered 503 rather than kept waiting. */
  timeoutMs: number;
}

/** The channel migration 14's trigger notifies on every change to the clients table. */
const CLIENTS_CHANNEL = 'paddock_clients_changed';

/** How long a process waits before it listens again after losing its listening connection. */
const RELISTEN_MS = 1000;

export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  observer: DbObserver | undefined;
  private readonly pool: pg.Pool;
  private readonly q: Queryable;
  private readonly queryTimeout: number;
  /**
   * The connection that LISTENs for changes to clients (opened on the first clientsVersion), and the
   * count of what it heard. The count also moves when the connection is lost or made again, since
   * notifications may have been missed meanwhile.
   */
  private listener: pg.Client | undefined;
  private listening = false;
  private clientsChanges = 0;
  private relistenAt = 0;
  private closed = false;

  constructor(
    private readonly url: string,
    options: PostgresOptions,
  ) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize,
      connectionTimeoutMillis: options.timeoutMs,
      // The server cancels a statement that runs too long (57014) and the connection stays usable; the
      // driver's read timeout, a little later, only fires when the server cannot answer at all.
      statement_timeout: options.timeoutMs,
      keepAlive: true,
    });
    this.queryTimeout = options.timeoutMs + 500;
    // An idle client that loses its connection (the database restarts) must not crash the process; the
    // pool drops it and opens a new one on demand.
    this.pool.on('error', () => {});
    this.q = queryable(this.pool, this.queryTimeout);
  }

  async all<T>(sql: string, params?: readonly Param[]): Promise<T[]> {
    const start = performance.now();
    try {
      return await this.q.all<T>(sql, params);
    } finally {
      this.observer?.query(performance.now() - start);
    }
  }

  async run(sql: string, params?: readonly Param[]): Promise<number> {
    const start = performance.now();
    try {
      return await this.q.run(sql, params);
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
    const q = queryable(client, options.unbounded ? undefined : this.queryTimeout);
    let failure: unknown;
    try {
      await q.exec('BEGIN');
      if (options.unbounded) await q.exec('SET LOCAL statement_timeout = 0');
      const result = await fn(q);
      await q.exec('COMMIT');
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

  /**
   * The number of changes to clients this process has heard of, while its listening connection is up;
   * undefined while it is not (the first call opens it, and a lost one is opened again a second later).
   * A notification comes once the change is committed, a millisecond or so later on the same network.
   */
  async clientsVersion(): Promise<number | undefined> {
    if (this.listening) return this.clientsChanges;
    if (!this.listener && !this.closed && Date.now() >= this.relistenAt) this.listen();
    return undefined;
  }

  private listen(): void {
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      connectionTimeoutMillis: this.queryTimeout,
    });
    this.listener = client;
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.listening = false;
      this.clientsChanges++;
      this.relistenAt = Date.now() + RELISTEN_MS;
      client.end().catch(() => {});
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      if (n.channel === CLIENTS_CHANNEL) this.clientsChanges++;
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${CLIENTS_CHANNEL}`))
      .then(() => {
        if (this.listener !== client) return;
        // Whatever changed before the LISTEN took effect was not heard: start from a new count.
        this.clientsChanges++;
        this.listening = true;
      }, lost);
  }

  async close(): Promise<void> {
    this.closed = true;
    const listener = this.listener;
    this.listener = undefined;
    this.listening = false;
    await Promise.all([this.pool.end(), listener?.end().catch(() => {})]);
  }
}
