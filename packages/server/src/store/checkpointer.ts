import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** How often the thread copies the WAL into the database file, when anything was committed since. */
const CHECKPOINT_MS = 100;

/** The longest a checkpoint that starts the WAL over waits for the commit under way and for readers. */
const RESTART_WAIT_MS = 3;

/**
 * A checkpoint that could not start the WAL over (a commit took the lock back first) is tried again this
 * much sooner than the next tick, this many times in a row, before the thread waits for the tick again.
 */
const RESTART_RETRY_MS = 5;
const RESTART_RETRIES = 10;

// The thread: its own connection, whose waits block only itself (plain CommonJS, run with eval).
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const frameBytes = db.pragma('page_size', { simple: true }) + 24;
parentPort.on('message', () => {
  let tooLong = false;
  try {
    // Copies what it can without waiting for anyone; if the WAL is too long, waits for the rest.
    const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
    if (passive.log * frameBytes > workerData.limit) {
      // What was committed while the first ran, also without waiting: the wait is then for little.
      db.pragma('wal_checkpoint(PASSIVE)');
      // RESTART waits for readers with the write lock held: a few milliseconds at most, so that a reader
      // that keeps the WAL for long (a backup) holds up no commit. If it cannot finish, it is tried again.
      db.pragma('busy_timeout = ${RESTART_WAIT_MS}');
      tooLong = true;
      try {
        tooLong = db.pragma('wal_checkpoint(RESTART)')[0].busy !== 0;
      } finally {
        db.pragma('busy_timeout = 1000');
      }
    }
  } catch {
    // Busy or failed: tried again (soon, while the WAL is too long); the WAL only grows meanwhile.
  }
  parentPort.postMessage(tooLong);
});
`;

/**
 * WAL checkpoints of a serving SQLite connection (copying the WAL into the database file, and syncing
 * both) on a thread of their own, instead of inside whichever COMMIT crosses wal_autocheckpoint, where
 * they would stop the event loop for as long as the disk takes. A checkpoint does not hold the write
 * lock, so commits go on meanwhile. Should the thread fail, the connection checkpoints by itself again.
 *
 * The thread also keeps the WAL file within walLimitBytes (PADDOCK_SQLITE_WAL_LIMIT_MB). SQLite writes
 * the WAL from its start again only when a transaction begins with every frame already copied to the
 * database file. Under a steady load some commit always lands while a checkpoint runs, so that moment
 * never comes and the file grows for as long as the load lasts (75 MB a second under a steady load of
 * refreshes: 444 MB after 10 s). Past the limit the checkpoint waits, a few milliseconds, for the
 * commit under way and for readers to let go of the WAL (RESTART), and the next commit writes from the
 * start. A WAL grown past the limit by one large transaction is cut back to it then (journal_size_limit).
 */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private retry: NodeJS.Timeout | undefined;
  private commits = 0;
  private running = false;

  constructor(file: string, db: Database.Database, walLimitBytes: number) {
    this.worker = new Worker(THREAD, {
      eval: true,
      workerData: {
        file,
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        limit: walLimitBytes,
      },
    });
    this.worker.unref();
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${walLimitBytes}`);
    const checkpoint = () => {
      this.running = true;
      this.commits = 0;
      this.worker.postMessage(0);
    };
    this.timer = setInterval(() => {
      if (!this.running && this.commits > 0) checkpoint();
    }, CHECKPOINT_MS);
    this.timer.unref();
    let retries = 0;
    this.worker.on('message', (tooLong: boolean) => {
      this.running = false;
      retries = tooLong ? retries + 1 : 0;
      if (tooLong && retries <= RESTART_RETRIES) {
        this.running = true;
        this.retry = setTimeout(checkpoint, RESTART_RETRY_MS);
        this.retry.unref();
      }
    });
    this.worker.on('error', () => {
      clearInterval(this.timer);
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
    });
  }

  /** The connection committed a transaction. */
  committed(): void {
    this.commits++;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.retry);
    await this.worker.terminate();
  }
}
