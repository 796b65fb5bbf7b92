import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CHANGE_COUNT } from './change-triggers.ts';
import { Checkpointer } from './checkpointer.ts';
import { makePrivate, privateFile } from './data-dir.ts';
import {
  type CachedState,
  type Db,
  type DbObserver,
  type Param,
  type Queryable,
  storeError,
  type TransactionOptions,
} from './db.ts';
import { isBusy, whileLocked } from './sqlite-lock.ts';
import { WalSync } from './wal-sync.ts';

type Statement = Database.Statement<unknown[], unknown>;

interface PendingTransaction {
  start: number;
  fn: (tx: Queryable) => Promise<unknown>;
  unbounded: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * The page cache of a connection, in KiB. SQLite's default (2 MiB) holds a few thousand sessions' pages:
 * past that, every token lookup reads its index pages back from the operating system.
 */
const CACHE_KIB = 64 * 1024;

/**
 * A group commit of fewer transactions than this, about to begin while this connection's last fdatasync
 * is still running, waits for up to GATHER_TURNS more turns of the event loop for others to join it (see
 * gather). At 10 concurrent refreshes 29 % of the commits held a single transaction, and each paid a
 * whole commit (BEGIN, COMMIT, the WAL's shared pages written again) and a sync of its own.
 */
const GATHER_TARGET = 8;
const GATHER_TURNS = 3;

/**
 * better-sqlite3 is synchronous; the Db interface is async so both stores share one code path.
 * A transaction holds a queue so that no other request's statements run inside it while it awaits.
 *
 * Durability (synchronous FULL, the default): SQLite runs with synchronous=NORMAL, so a COMMIT writes the
 * WAL without waiting for the disk, and this class then fdatasyncs the WAL file on libuv's thread pool
 * before any caller of that transaction hears of success. Once that returns, every frame written before
 * it (the commit's, and any earlier one) is on stable storage: what a 200 carries is as durable as with
 * SQLite's own FULL. What changes is where the wait happens: not on the event loop, and not while
 * holding the write lock, so the next group commit (of this process or another worker) proceeds while
 * the disk writes, and concurrent syncs share one fdatasync. Another connection may see a commit a few
 * milliseconds before it is on disk; nobody is told it succeeded before it is.
 */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  observer: DbObserver | undefined;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();
  private readonly arrayStatements = new Map<string, Statement>();
  private queue: Promise<void> = Promise.resolve();
  private inTransaction = false;
  private idle: Promise<void> = Promise.resolve();
  private becameIdle: () => void = () => {};
  private pending: PendingTransaction[] = [];
  private batchScheduled = false;
  /** fdatasync the WAL after each COMMIT before answering (synchronous FULL). */
  private readonly syncCommits: boolean;
  private readonly wal: WalSync;
  private checkpointer: Checkpointer | undefined;

  /**
   * @param busyTimeoutMs how long a statement waits for another process's write lock before the request
   *   is answered 503 (a long admin command or backup holds it)
   */
  constructor(
    private readonly file: string,
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
    this.wal = new WalSync(`${file}-wal`);
    this.syncCommits = synchronous === 'FULL';
    // FULL is kept by the WAL sync after each COMMIT, off the event loop and outside the write lock.
    this.db.pragma('synchronous = NORMAL');
    // No synchronous busy wait: it would block the event loop, and with it whoever holds the lock in
    // this process. A busy database is retried asynchronously instead (see whileLocked).
    this.db.pragma('busy_timeout = 0');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma(`cache_size = ${-CACHE_KIB}`);
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
        if (!isBusy(err) || Date.now() > deadline) throw err;
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

  /** A statement of its own whose rows are arrays (better-sqlite3's raw mode). */
  private prepareArrays(sql: string): Statement {
    let st = this.arrayStatements.get(sql);
    if (!st) {
      st = this.db.prepare(sql).raw(true);
      this.arrayStatements.set(sql, st);
    }
    return st;
  }

  /** Runs fn, asking again every millisecond while another connection holds the lock (see whileLocked). */
  private retryBusy<T>(fn: () => T): Promise<T> {
    return whileLocked(fn, { timeoutMs: this.busyTimeoutMs });
  }

  /** Statements inside a transaction, which already holds the write lock. */
  private readonly direct: Queryable = {
    all: async <T>(sql: string, params: readonly Param[] = []) =>
      unbusy(() => this.prepare(sql).all(...params) as T[]),
    arrays: async (sql: string, params: readonly Param[] = []) =>
      unbusy(() => this.prepareArrays(sql).all(...params) as unknown[][]),
    run: async (sql: string, params: readonly Param[] = []) =>
      unbusy(() => this.prepare(sql).run(...params).changes),
    exec: async (sql: string) => unbusy(() => void this.db.exec(sql)),
  };

  /** Statements outside a transaction wait only while this connection is inside one. */
  private async waitIdle(): Promise<void> {
    while (this.inTransaction) await this.idle;
  }

  private setInTransaction(on: boolean): void {
    this.inTransaction = on;
    if (on) this.idle = new Promise<void>((r) => (this.becameIdle = r));
    else this.becameIdle();
  }

  /** A write outside a transaction commits by itself: durable before its caller hears of it, as a batch. */
  private async durable<T>(st: Statement, result: T): Promise<T> {
    if (this.syncCommits && !st.readonly) await this.wal.flush();
    return result;
  }

  async all<T>(sql: string, params: readonly Param[] = []): Promise<T[]> {
    return this.rows<T>(this.prepare(sql), params);
  }

  async arrays(sql: string, params: readonly Param[] = []): Promise<unknown[][]> {
    return this.rows<unknown[]>(this.prepareArrays(sql), params);
  }

  private async rows<T>(st: Statement, params: readonly Param[]): Promise<T[]> {
    const start = performance.now();
    if (this.inTransaction) await this.waitIdle();
    try {
      return await this.durable(st, await this.retryBusy(() => st.all(...params) as T[]));
    } finally {
      this.observer?.query(performance.now() - start);
    }
  }

  async run(sql: string, params: readonly Param[] = []): Promise<number> {
    const start = performance.now();
    if (this.inTransaction) await this.waitIdle();
    const st = this.prepare(sql);
    try {
      return await this.durable(st, await this.retryBusy(() => st.run(...params).changes));
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
        .then(() => this.gather())
        .then(() => this.runBatch());
    });
  }

  /**
   * Lets a small group commit wait a few turns of the event loop while the disk is still busy with this
   * connection's previous sync. Its callers could not hear of success before that sync ends anyway (the
   * next one starts only then), so waiting costs them little, and the requests that arrive meanwhile
   * share its BEGIN, its COMMIT and its fdatasync instead of paying for their own. With the disk idle, or
   * enough transactions already waiting, it begins at once.
   */
  private async gather(): Promise<void> {
    for (let turn = 0; turn < GATHER_TURNS; turn++) {
      if (this.pending.length >= GATHER_TARGET || !this.syncCommits || !this.wal.syncing) return;
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /**
   * BEGIN IMMEDIATE, asking again while another process holds the write lock: eagerly, as a group commit
   * holds it for a fraction of a millisecond (see whileLocked). Whatever arrives meanwhile joins the batch.
   */
  private async begin(): Promise<void> {
    const begin = this.prepare('BEGIN IMMEDIATE');
    await whileLocked(() => void begin.run(), {
      timeoutMs: this.busyTimeoutMs,
      eager: true,
      outlasts: () => this.pending.some((item) => item.unbounded),
    });
  }

  private async runBatch(): Promise<void> {
    let batch: PendingTransaction[] = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      try {
        await this.begin();
      } finally {
        // Whatever arrived while waiting for the lock runs in this batch.
        this.batchScheduled = false;
        batch = this.pending;
        this.pending = [];
      }
      this.setInTransaction(true);
      this.observer?.batch(batch.length);
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
      this.checkpointer?.committed();
    } catch (err) {
      try {
        if (this.db.inTransaction) this.prepare('ROLLBACK').run();
      } catch {
        // Nothing better to do if even ROLLBACK fails; every caller must still hear of the failure.
      }
      if (this.inTransaction) this.setInTransaction(false);
      for (const item of batch) {
        this.observer?.transaction(performance.now() - item.start);
        item.reject(storeError(err));
      }
      return;
    }
    this.setInTransaction(false);
    // The next batch may begin now; this one's callers hear of it once the commit is on disk.
    const settle = () =>
      batch.forEach((item, i) => {
        this.observer?.transaction(performance.now() - item.start);
        const o = outcomes[i]!;
        if (o.ok) item.resolve(o.value);
        else item.reject(o.value);
      });
    if (!this.syncCommits) return settle();
    this.wal.flush().then(settle, (err: unknown) => {
      // Committed, but not known to be on disk (the disk failed): nobody may count on it.
      for (const item of batch) {
        this.observer?.transaction(performance.now() - item.start);
        item.reject(storeError(err));
      }
    });
  }

  /** The count migration 14 and 15's triggers keep for `what` (undefined on an older schema). */
  async changeVersion(what: CachedState): Promise<number | undefined> {
    try {
      const rows = await this.all<{ version: number }>(CHANGE_COUNT, [what]);
      return rows[0]?.version;
    } catch (err) {
      // A database not yet migrated to version 14 keeps no count: there is nothing to compare with.
      if (/no such table/.test(String((err as Error).message))) return undefined;
      throw err;
    }
  }

  async exec(sql: string): Promise<void> {
    if (this.inTransaction) await this.waitIdle();
    await this.retryBusy(() => this.db.exec(sql));
    if (this.syncCommits) await this.wal.flush();
  }

  /**
   * For a serving process: checkpoints (copying the WAL into the database file, and syncing both) run
   * on a thread of their own, on their own connection, instead of inside whichever COMMIT crosses
   * wal_autocheckpoint, where they would stop the event loop for as long as the disk takes. They do not
   * hold the write lock, so commits go on meanwhile. Should the thread fail, COMMITs checkpoint again.
   * The thread also keeps the WAL file within walLimitBytes.
   */
  checkpointInBackground(walLimitBytes: number): void {
    this.checkpointer ??= new Checkpointer(this.file, this.db, walLimitBytes);
  }

  async close(): Promise<void> {
    await this.checkpointer?.close();
    this.checkpointer = undefined;
    await this.wal.close();
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
