import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { makePrivate, privateFile } from './data-dir.ts';
import type { Db, Param, Queryable } from './db.ts';

type Statement = Database.Statement<unknown[], unknown>;

interface PendingTransaction {
  fn: (tx: Queryable) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** How long a statement waits for another process's write lock before giving up. */
const BUSY_TIMEOUT_MS = 15_000;

/**
 * better-sqlite3 is synchronous; the Db interface is async so both stores share one code path.
 * A transaction holds a queue so that no other request's statements run inside it while it awaits.
 */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();
  private queue: Promise<void> = Promise.resolve();
  private inTransaction = false;
  private pending: PendingTransaction[] = [];
  private batchScheduled = false;

  constructor(file: string, synchronous: 'FULL' | 'NORMAL') {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // The database holds token hashes and sealed signing keys: private from its first byte. SQLite
    // creates its -wal and -shm files with the database file's mode; ones left by an older version
    // are made private here.
    privateFile(file);
    makePrivate(`${file}-wal`);
    makePrivate(`${file}-shm`);
    this.db = new Database(file);
    this.useWal();
    this.db.pragma(`synchronous = ${synchronous}`);
    // No synchronous busy wait: it would block the event loop, and with it whoever holds the lock in
    // this process. A busy database is retried asynchronously instead (see retryBusy).
    this.db.pragma('busy_timeout = 0');
    this.db.pragma('foreign_keys = ON');
  }

  /**
   * Switching a new database to WAL takes an exclusive lock, and SQLite refuses at once, without a busy
   * wait, when several processes opening it together try at the same moment. Once the file is in WAL
   * mode the switch is a no-op. This runs before the server serves anything, so a short blocking wait
   * between tries holds nobody up.
   */
  private useWal(): void {
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      try {
        this.db.pragma('journal_mode = WAL');
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay * (0.5 + Math.random()));
    }
  }

  private prepare(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Runs fn, retrying while another connection holds the write lock, without blocking the event loop. */
  private async retryBusy<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      try {
        return fn();
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
    }
  }

  private readonly direct: Queryable = {
    all: async <T>(sql: string, params: readonly Param[] = []) => this.prepare(sql).all(...params) as T[],
    run: async (sql: string, params: readonly Param[] = []) => this.prepare(sql).run(...params).changes,
    exec: async (sql: string) => {
      this.db.exec(sql);
    },
  };

  private async waitIdle(): Promise<void> {
    while (this.inTransaction || this.batchScheduled) await this.queue;
  }

  async all<T>(sql: string, params: readonly Param[] = []): Promise<T[]> {
    if (this.inTransaction) await this.waitIdle();
    const st = this.prepare(sql);
    return this.retryBusy(() => st.all(...params) as T[]);
  }

  async run(sql: string, params: readonly Param[] = []): Promise<number> {
    if (this.inTransaction) await this.waitIdle();
    const st = this.prepare(sql);
    return this.retryBusy(() => st.run(...params).changes);
  }

  /**
   * Group commit: transactions started in the same turn of the event loop run one after another inside
   * one BEGIN IMMEDIATE ... COMMIT, each in its own SAVEPOINT, so a refused one rolls back alone and the
   * whole batch pays one fsync. No caller hears of success before the COMMIT that makes it durable.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve, reject } as PendingTransaction);
      if (this.batchScheduled) return;
      this.batchScheduled = true;
      this.queue = this.queue
        .then(() => new Promise<void>((r) => setImmediate(r)))
        .then(() => this.runBatch());
    });
  }

  private async runBatch(): Promise<void> {
    this.batchScheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.inTransaction = true;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      const begin = this.prepare('BEGIN IMMEDIATE');
      await this.retryBusy(() => begin.run());
      for (const item of batch) {
        this.prepare('SAVEPOINT paddock_tx').run();
        try {
          const value = await item.fn(this.direct);
          this.prepare('RELEASE paddock_tx').run();
          outcomes.push({ ok: true, value });
        } catch (err) {
          this.prepare('ROLLBACK TO paddock_tx').run();
          this.prepare('RELEASE paddock_tx').run();
          outcomes.push({ ok: false, value: err });
        }
      }
      const commit = this.prepare('COMMIT');
      await this.retryBusy(() => commit.run());
    } catch (err) {
      if (this.db.inTransaction) this.prepare('ROLLBACK').run();
      this.inTransaction = false;
      for (const item of batch) item.reject(err);
      return;
    }
    this.inTransaction = false;
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.value);
    });
  }

  async exec(sql: string): Promise<void> {
    if (this.inTransaction) await this.waitIdle();
    await this.retryBusy(() => this.db.exec(sql));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
