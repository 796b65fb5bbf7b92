import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Db, DbObserver, Param, PoolStats, Queryable } from './db.ts';

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

function queryable(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async all<T>(sql: string, params: readonly Param[] = []) {
      const p = prepared(sql);
      const res = await client.query({ name: p.name, text: p.text, values: params as Param[] });
      return res.rows as T[];
    },
    async run(sql: string, params: readonly Param[] = []) {
      const p = prepared(sql);
      const res = await client.query({ name: p.name, text: p.text, values: params as Param[] });
      return res.rowCount ?? 0;
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  };
}

export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  observer: DbObserver | undefined;
  private readonly pool: pg.Pool;
  private readonly q: Queryable;

  constructor(url: string, poolSize: number) {
    this.pool = new pg.Pool({ connectionString: url, max: poolSize });
    // An idle client that loses its connection must not crash the process.
    this.pool.on('error', () => {});
    this.q = queryable(this.pool);
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
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    if (!this.observer) return this.runTransaction(fn);
    const start = performance.now();
    return this.runTransaction(fn).finally(() => this.observer?.transaction(performance.now() - start));
  }

  private async runTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const result = await fn(queryable(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    } finally {
      client.release();
    }
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
