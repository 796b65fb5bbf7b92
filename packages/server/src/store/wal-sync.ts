import fs from 'node:fs';
import { storeError } from './db.ts';

/**
 * The durability of a SQLite connection that runs with synchronous=NORMAL: an fdatasync of its WAL file
 * on libuv's thread pool, after a COMMIT and before its callers hear of success (see SqliteDb). Callers
 * that ask meanwhile share one fdatasync.
 */
export class WalSync {
  private fd: number | undefined;
  /** The last fdatasync started or queued, and the one queued (not yet started) that newcomers join. */
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private running = false;

  constructor(private readonly walFile: string) {}

  /** Whether an fdatasync of this file is under way. */
  get syncing(): boolean {
    return this.running;
  }

  /**
   * Resolves once everything written to the WAL before the call is on stable storage. A sync already
   * running may have started before the caller's writes, so a caller joins the next one not yet started
   * (one fdatasync for every commit that came meanwhile).
   */
  flush(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.chain
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        return this.sync();
      });
    this.queued = next;
    this.chain = next;
    return next;
  }

  private async sync(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.fd ??= fs.openSync(this.walFile, 'r');
      } catch (err) {
        // No WAL file: nothing was ever written to one, so nothing waits for the disk.
        if ((err as { code?: string }).code === 'ENOENT') return;
        throw storeError(err);
      }
      const fd = this.fd;
      this.running = true;
      try {
        await new Promise<void>((resolve, reject) =>
          fs.fdatasync(fd, (err) => (err ? reject(storeError(err)) : resolve())),
        );
      } finally {
        this.running = false;
      }
      // The WAL file is removed only when the last connection closes; should it have been replaced
      // anyway, the sync went to the old file: sync the current one.
      if (fs.fstatSync(fd).nlink > 0 || attempt > 0) return;
      fs.closeSync(fd);
      this.fd = undefined;
    }
  }

  /** Waits for the syncs under way, then lets go of the file. */
  async close(): Promise<void> {
    await this.chain.catch(() => {});
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
