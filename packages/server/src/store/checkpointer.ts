import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** How often the thread copies the WAL into the database file, when anything was committed since. */
const CHECKPOINT_MS = 100;

// The thread: its own connection, whose waits block only itself (plain CommonJS, run with eval).
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
parentPort.on('message', () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or failed: the next tick tries again; the WAL only grows meanwhile.
  }
  parentPort.postMessage(0);
});
`;

/**
 * WAL checkpoints of a serving SQLite connection (copying the WAL into the database file, and syncing
 * both) on a thread of their own, instead of inside whichever COMMIT crosses wal_autocheckpoint, where
 * they would stop the event loop for as long as the disk takes. A checkpoint does not hold the write
 * lock, so commits go on meanwhile. Should the thread fail, the connection checkpoints by itself again.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private commits = 0;
  private running = false;

  constructor(file: string, db: Database.Database) {
    this.worker = new Worker(THREAD, {
      eval: true,
      workerData: { file, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    this.worker.unref();
    db.pragma('wal_autocheckpoint = 0');
    this.timer = setInterval(() => {
      if (this.running || this.commits === 0) return;
      this.running = true;
      this.commits = 0;
      this.worker.postMessage(0);
    }, CHECKPOINT_MS);
    this.timer.unref();
    this.worker.on('message', () => {
      this.running = false;
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
    await this.worker.terminate();
  }
}
