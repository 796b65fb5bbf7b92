import type { Param, Queryable } from './db.ts';
import type { SessionRecord } from './types.ts';

/** Sessions as staff and the bearer endpoints see them (the grants' queries are in store.ts). */
export class SessionStore {
  constructor(private readonly q: Queryable) {}

  /** A user's live sessions, with every client or one, newest first. */
  async liveOfUser(userId: string, clientId: string | undefined, now: number): Promise<SessionRecord[]> {
    const params: Param[] = [userId, now];
    if (clientId !== undefined) params.push(clientId);
    return this.q.all<SessionRecord>(
      `SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
       ${clientId !== undefined ? 'AND client_id = ?' : ''} ORDER BY auth_time DESC, session_id`,
      params,
    );
  }

  /** A session's last activity, written at most once per interval however busy the session is. */
  /**
   * Records activity unless the session's last activity is newer than `staleBefore`: of many requests
   * in the same interval, one writes and the others match no row. Returns whether it wrote.
   */
  async touch(
    sessionId: string,
    now: number,
    ip: string | null,
    userAgent: string | null,
    staleBefore: number,
  ): Promise<boolean> {
    const changed = await this.q.run(
      `UPDATE sessions SET last_activity = ?, last_ip = ?, last_user_agent = ?
       WHERE session_id = ? AND last_activity < ?`,
      [now, ip, userAgent, sessionId, staleBefore],
    );
    return changed === 1;
  }
}
