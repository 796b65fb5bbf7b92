// What the store stops keeping. Every refresh adds a row and every sign-in a session; without this the
// tables and their indexes grow for as long as the server runs.
// - an expired refresh token is kept a day (EXPIRED_TOKEN_KEPT), so that a client presenting it hears
//   "expired" rather than "not valid" for a while; a used one that has not expired stays, since
//   presenting it again must still revoke its session (reuse detection);
// - a session that ended (revoked or expired) is kept 30 days (ENDED_SESSION_KEPT), for the staff and
//   the audit trail, then goes with its refresh tokens (foreign key) and the codes that started it;
// - on SQLite the table is read a window of rowids at a time without the write lock, and what is due in
//   a window is deleted PRUNE_BATCH rows per transaction, with a pause twice as long as each delete
//   took: requests never queue behind one long delete, for the write lock or for this thread.
import type { Db, Param } from './db.ts';

/** Seconds an expired refresh token is kept after its expiry. */
export const EXPIRED_TOKEN_KEPT = 86400;
/** Seconds a revoked or expired session (with what hangs on it) is kept after it ended. */
export const ENDED_SESSION_KEPT = 30 * 86400;
/** SQLite: rows looked at per read, without the write lock. */
export const PRUNE_WINDOW = 2000;
/** SQLite: rows deleted per transaction; about a millisecond of the write lock each. */
export const PRUNE_BATCH = 200;

export interface Pruned {
  sessions: number;
  refreshTokens: number;
  authorizationCodes: number;
}

const ENDED_SESSION = '(revoked_at < ? OR expires_at < ?)';
// A code linked to a session the store no longer has; a code's own expiry is minutes, a day is a margin.
const ORPHAN_CODE =
  'session_id IS NOT NULL AND expires_at < ? AND NOT EXISTS ' +
  '(SELECT 1 FROM sessions s WHERE s.session_id = authorization_codes.session_id)';

export class RetentionStore {
  constructor(private readonly db: Db) {}

  /** Deletes what no request can use any more as of `now`; returns how many rows of each kind went. */
  async prune(now: number): Promise<Pruned> {
    const sessionsBefore = now - ENDED_SESSION_KEPT;
    const tokensBefore = now - EXPIRED_TOKEN_KEPT;
    const sessions = await this.deleteWhere('sessions', ENDED_SESSION, [sessionsBefore, sessionsBefore]);
    // Tokens are stored in the order they are made and expire after they are made: the walk stops at the
    // first window made after the cutoff, so it does not read the tokens of the last days every hour.
    const refreshTokens = await this.deleteWhere('refresh_tokens', 'expires_at < ?', [tokensBefore], {
      createdBefore: tokensBefore,
    });
    const authorizationCodes = await this.deleteWhere('authorization_codes', ORPHAN_CODE, [tokensBefore]);
    return { sessions, refreshTokens, authorizationCodes };
  }

  /** Deletes the rows of `table` matching `where`; returns how many. */
  private async deleteWhere(
    table: string,
    where: string,
    params: Param[],
    opts: { createdBefore?: number } = {},
  ): Promise<number> {
    if (this.db.dialect === 'postgres') return this.db.run(`DELETE FROM ${table} WHERE ${where}`, params);
    const created = opts.createdBefore === undefined ? 'NULL' : 'created_at';
    // Each window is read first, without the write lock (WAL readers never wait); only a window with
    // something to delete takes the lock, PRUNE_BATCH rows per DELETE.
    const windowSql = `SELECT max(rid) AS last, min(created) AS first_created, sum(${where}) AS due
       FROM (SELECT rowid AS rid, ${created} AS created, * FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?)
       AS ${table}`;
    const deleteSql = `DELETE FROM ${table} WHERE rowid IN
      (SELECT rowid FROM ${table} WHERE rowid > ? AND rowid <= ? AND ${where} LIMIT ?)`;
    let after = Number.MIN_SAFE_INTEGER;
    let deleted = 0;
    for (;;) {
      // A turn of the event loop between windows: better-sqlite3 runs on this thread.
      await new Promise(setImmediate);
      const [w] = await this.db.all<{
        last: number | null;
        first_created: number | null;
        due: number | null;
      }>(windowSql, [...params, after, PRUNE_WINDOW]);
      if (!w || w.last === null) return deleted;
      if (opts.createdBefore !== undefined && Number(w.first_created) >= opts.createdBefore) return deleted;
      const last = Number(w.last);
      for (let due = Number(w.due); due > 0; ) {
        const started = performance.now();
        const n = await this.db.run(deleteSql, [after, last, ...params, PRUNE_BATCH]);
        deleted += n;
        due = n < PRUNE_BATCH ? 0 : due - n;
        // Requests get the write lock (and this thread) at least twice as long as the delete had them.
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, 2 * (performance.now() - started))));
      }
      after = last;
    }
  }
}
