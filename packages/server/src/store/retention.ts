// What the store stops keeping. Every refresh adds a row and every sign-in a session; without this the
// tables, their indexes and the pages a refresh touches grow for as long as the server runs.
// - an expired refresh token is kept a day (EXPIRED_TOKEN_KEPT), so that a client presenting it hears
//   "expired" rather than "not valid" for a while; a used one that has not expired stays, since
//   presenting it again must still revoke its session (reuse detection);
// - a session that ended (revoked or expired) is kept 30 days (ENDED_SESSION_KEPT), for the staff and
//   the audit trail, then goes with its refresh tokens (foreign key) and the codes that started it;
// - on SQLite the rows are deleted a window of rowids at a time, each window its own short transaction,
//   so that requests never wait behind one long delete for the write lock.
import type { Db, Param, Queryable } from './db.ts';

/** Seconds an expired refresh token is kept after its expiry. */
export const EXPIRED_TOKEN_KEPT = 86400;
/** Seconds a revoked or expired session (with what hangs on it) is kept after it ended. */
export const ENDED_SESSION_KEPT = 30 * 86400;
/** SQLite: rowids looked at per transaction. */
export const PRUNE_WINDOW = 2000;

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
    let after = 0;
    let deleted = 0;
    for (;;) {
      const step = await this.db.transaction((q) => this.deleteWindow(q, table, where, params, after, opts));
      if (!step) return deleted;
      deleted += step.deleted;
      after = step.last;
    }
  }

  /** SQLite: one window of up to PRUNE_WINDOW rows after rowid `after`; undefined when the walk is over. */
  private async deleteWindow(
    q: Queryable,
    table: string,
    where: string,
    params: Param[],
    after: number,
    opts: { createdBefore?: number },
  ): Promise<{ deleted: number; last: number } | undefined> {
    const created = opts.createdBefore === undefined ? 'NULL' : 'created_at';
    const [w] = await q.all<{ last: number | null; first_created: number | null }>(
      `SELECT max(rowid) AS last, min(created) AS first_created
       FROM (SELECT rowid, ${created} AS created FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?)`,
      [after, PRUNE_WINDOW],
    );
    if (!w || w.last === null) return undefined;
    if (opts.createdBefore !== undefined && Number(w.first_created) >= opts.createdBefore) return undefined;
    const deleted = await q.run(`DELETE FROM ${table} WHERE rowid > ? AND rowid <= ? AND ${where}`, [
      after,
      w.last,
      ...params,
    ]);
    return { deleted, last: Number(w.last) };
  }
}
