import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { makePrivate, privateFile } from './data-dir.ts';
import {
  type Db,
  type DbObserver,
  type Param,
  type Queryable,
  storeError,
  type TransactionOptions,
} from './db.ts';

type Statement = Database.Statement<unknown[], unknown>;

interface PendingTransaction {
  start: number;
  fn: (tx: Queryable) => Promise<unknown>;
  unbounded: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * better-sqlite3 is synchronous; the Db interface is async so both stores share one code path.
 * A transaction holds a queue so that no other request's statements run inside it while it awaits.
 */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  observer: DbObserver | undefined;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();
  private queue: Promise<void> = Promise.resolve();
  private inTransaction = false;
  private pending: PendingTransaction[] = [];
  private batchScheduled = false;

  /**
   * @param busyTimeoutMs how long a statement waits for another process's write lock before the request
   *   is answered 503 (a long admin command or backup holds it)
   */
  constructor(
    file: string,
    synchronous: 'FULL' | 'NORMAL',
    private readonly busyTimeoutMs: number,
  ) {
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
    const deadline = Date.now() + this.busyTimeoutMs;
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
  private async retryBusy<T>(fn: () => T, unbounded = false): Promise<T> {
    const deadline = unbounded ? Number.POSITIVE_INFINITY : Date.now() + this.busyTimeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      try {
        return fn();
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw storeError(err);
      }
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
    }
  }

  /** Statements inside a transaction, which already holds the write lock. */
  private readonly direct: Queryable = {
    all: async <T>(sql: string, params: readonly Param[] = []) =>
      unbusy(() => this.prepare(sql).all(...params) as T[]),
    run: async (sql: string, params: readonly Param[] = []) =>
      unbusy(() => this.prepare(sql).run(...params).changes),
    exec: async (sql: string) => unbusy(() => void this.db.exec(sql)),
  };

  private async waitIdle(): Promise<void> {
    while (this.inTransaction || this.batchScheduled) await this.queue;
  }

  async all<T>(sql: string, params: readonly Param[] = []): Promise<T[]> {
    const start = performance.now();
    if (this.inTransaction) await this.waitIdle();
    const st = this.prepare(sql);
    try {
      return await this.retryBusy(() => st.all(...params) as T[]);
    } finally {
      this.observer?.query(performance.now() - start);
    }
  }

  async run(sql: string, params: readonly Param[] = []): Promise<number> {
    const start = performance.now();
    if (this.inTransaction) await this.waitIdle();
    const st = this.prepare(sql);
    try {
      return await this.retryBusy(() => st.run(...params).changes);
    } finally {
      this.observer?.query(performance.now() - start);
    }
  }

  /**
   * Group commit: transactions started in the same turn of the event loop run one after another inside
   * one BEGIN IMMEDIATE ... COMMIT, each in its own SAVEPOINT, so a refused one rolls back alone and the
   * whole batch pays one fsync. No caller hears of success before the COMMIT that makes it durable.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({
        start: performance.now(),
        fn,
        unbounded: !!options.unbounded,
        resolve,
        reject,
      } as PendingTransaction);
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
    this.observer?.batch(batch.length);
    this.inTransaction = true;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      const begin = this.prepare('BEGIN IMMEDIATE');
      await this.retryBusy(
        () => begin.run(),
        batch.some((item) => item.unbounded),
      );
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
      try {
        if (this.db.inTransaction) this.prepare('ROLLBACK').run();
      } catch {
        // Nothing better to do if even ROLLBACK fails; every caller must still hear of the failure.
      }
      this.inTransaction = false;
      for (const item of batch) {
        this.observer?.transaction(performance.now() - item.start);
        item.reject(storeError(err));
      }
      return;
    }
    this.inTransaction = false;
    batch.forEach((item, i) => {
      this.observer?.transaction(performance.now() - item.start);
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

/** Runs a statement of a transaction, naming an I/O or lock failure as unavailability. */
function unbusy<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw storeError(err);
  }
}
