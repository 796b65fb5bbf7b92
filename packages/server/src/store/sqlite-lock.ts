import { storeError } from './db.ts';

/** How often a write asks again for the write lock another process holds. */
const LOCK_POLL_MS = 1;

/**
 * Another process's group commit holds the write lock for a fraction of a millisecond: for this long an
 * eager wait asks again after each turn of the event loop instead of every LOCK_POLL_MS.
 */
const LOCK_EAGER_MS = 2;

/** A turn of the event loop that came back sooner than this had nothing to do... */
const IDLE_TURN_MS = 0.03;

/** ...and the thread then sleeps this long before asking again, leaving the core to the lock's holder. */
const LOCK_NAP_MS = 0.05;
const napCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Another connection holds a lock: SQLITE_BUSY, or an extended code of it such as SQLITE_BUSY_RECOVERY,
 * which a process meets while another one, opening the same fresh file, recovers its WAL.
 */
export function isBusy(err: unknown): boolean {
  return /^SQLITE_BUSY/.test(String((err as { code?: unknown } | null)?.code ?? ''));
}

export interface LockWait {
  /** How long to keep asking, in milliseconds. */
  timeoutMs: number;
  /**
   * Ask again after every turn of the event loop for the first LOCK_EAGER_MS (see nextTurn), then
   * every LOCK_POLL_MS; without it, every LOCK_POLL_MS from the start.
   */
  eager?: boolean;
  /** Past the timeout, asked before giving up: true keeps asking (a transaction with no time limit). */
  outlasts?: () => boolean;
}

/**
 * Runs `attempt` (better-sqlite3 is synchronous) and, while another process holds the lock it needs,
 * runs it again, without blocking the event loop meanwhile: reads, answers and transactions joining a
 * batch go on. Another process lets go of the write lock between two of its group commits, a window of
 * a few milliseconds, which a growing back-off would mostly miss (and then wait tens of milliseconds
 * more). Any other failure, or the lock still held past the timeout, throws as the store's error.
 */
export async function whileLocked<T>(attempt: () => T, wait: LockWait): Promise<T> {
  const deadline = Date.now() + wait.timeoutMs;
  const eagerUntil = wait.eager ? performance.now() + LOCK_EAGER_MS : 0;
  for (;;) {
    try {
      return attempt();
    } catch (err) {
      if (!isBusy(err) || (Date.now() > deadline && !wait.outlasts?.())) throw storeError(err);
    }
    if (performance.now() < eagerUntil) await nextTurn();
    else await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}

/**
 * The next turn of the event loop, for whatever I/O is ready. One that comes straight back found nothing
 * to do: the thread then sleeps LOCK_NAP_MS (nothing was waiting for it when it began), so that asking again
 * does not spin on a core the lock's holder needs. A timer would wait a whole millisecond.
 */
async function nextTurn(): Promise<void> {
  const start = performance.now();
  await new Promise((r) => setImmediate(r));
  if (performance.now() - start < IDLE_TURN_MS) Atomics.wait(napCell, 0, 0, LOCK_NAP_MS);
}
