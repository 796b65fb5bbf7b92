// Two-factor sign-in's rows (accounts/two-factor.ts has the rules): a user's sealed TOTP secret and the
// step of the last code accepted, recovery code hashes, remembered browsers (2FA bypasses, by hash), and
// the half-signed-in state of a pending request.
import { one, type Queryable } from './db.ts';

export interface TotpRow {
  user_id: string;
  /** Sealed with the master key (tokens/master-key.ts), never the secret itself. */
  secret: string;
  /** Null while the user is still enrolling. */
  enabled_at: number | null;
  last_step: number;
  created_at: number;
}

export interface RememberedBrowserRow {
  bypass_hash: string;
  user_id: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  revoked_at: number | null;
  ip: string | null;
  user_agent: string | null;
}

export class TwoFactorStore {
  constructor(private readonly q: Queryable) {}

  getTotp(userId: string): Promise<TotpRow | undefined> {
    return one<TotpRow>(this.q, 'SELECT * FROM user_totp WHERE user_id = ?', [userId]);
  }

  /** Starts (or restarts) an enrolment: a new secret, not enabled yet. Never replaces an enabled one. */
  async beginEnrolment(userId: string, sealed: string, now: number): Promise<boolean> {
    await this.q.run('DELETE FROM user_totp WHERE user_id = ? AND enabled_at IS NULL', [userId]);
    if (await this.getTotp(userId)) return false;
    await this.q.run(
      'INSERT INTO user_totp (user_id, secret, enabled_at, last_step, created_at) VALUES (?, ?, NULL, 0, ?)',
      [userId, sealed, now],
    );
    return true;
  }

  /**
   * Accepts the code of time step `step` once: only when no code of this or a later step was accepted
   * before. The condition is the atomic part; two requests with one code cannot both win.
   */
  async acceptStep(userId: string, step: number, enabling: boolean): Promise<boolean> {
    const sql = enabling
      ? 'UPDATE user_totp SET last_step = ? WHERE user_id = ? AND last_step < ? AND enabled_at IS NULL'
      : 'UPDATE user_totp SET last_step = ? WHERE user_id = ? AND last_step < ? AND enabled_at IS NOT NULL';
    return (await this.q.run(sql, [step, userId, step])) === 1;
  }

  async enable(userId: string, recoveryHashes: readonly string[], now: number): Promise<boolean> {
    const done = await this.q.run(
      'UPDATE user_totp SET enabled_at = ? WHERE user_id = ? AND enabled_at IS NULL',
      [now, userId],
    );
    if (done !== 1) return false;
    await this.q.run('DELETE FROM recovery_codes WHERE user_id = ?', [userId]);
    for (const h of recoveryHashes)
      await this.q.run('INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)', [
        userId,
        h,
        now,
      ]);
    return true;
  }

  /** Removes the second factor and its recovery codes; true when there was one. */
  async disable(userId: string): Promise<boolean> {
    await this.q.run('DELETE FROM recovery_codes WHERE user_id = ?', [userId]);
    return (await this.q.run('DELETE FROM user_totp WHERE user_id = ?', [userId])) === 1;
  }

  /** Spends a recovery code; only one of several concurrent uses gets true. */
  async useRecoveryCode(userId: string, codeHash: string, now: number): Promise<boolean> {
    return (
      (await this.q.run(
        'UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL',
        [now, userId, codeHash],
      )) === 1
    );
  }

  async recoveryCodesLeft(userId: string): Promise<number> {
    const r = await one<{ n: number }>(
      this.q,
      'SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL',
      [userId],
    );
    return Number(r?.n ?? 0);
  }

  // ---- remembered browsers

  async insertRememberedBrowser(r: RememberedBrowserRow): Promise<void> {
    await this.q.run(
      `INSERT INTO remembered_browsers (bypass_hash, user_id, created_at, last_used_at, expires_at, revoked_at, ip, user_agent)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.bypass_hash,
        r.user_id,
        r.created_at,
        r.last_used_at,
        r.expires_at,
        r.revoked_at,
        r.ip,
        r.user_agent,
      ],
    );
  }

  /** A live bypass of this user, marked as used now; undefined when there is none. */
  async useRememberedBrowser(
    bypassHash: string,
    userId: string,
    now: number,
    ip: string | null,
  ): Promise<boolean> {
    return (
      (await this.q.run(
        `UPDATE remembered_browsers SET last_used_at = ?, ip = ?
         WHERE bypass_hash = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?`,
        [now, ip, bypassHash, userId, now],
      )) === 1
    );
  }

  listRememberedBrowsers(userId: string, now: number): Promise<RememberedBrowserRow[]> {
    return this.q.all<RememberedBrowserRow>(
      `SELECT * FROM remembered_browsers WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
       ORDER BY last_used_at DESC, bypass_hash`,
      [userId, now],
    );
  }

  /** Forgets one bypass (of this user, when given). */
  async revokeRememberedBrowser(bypassHash: string, now: number, userId?: string): Promise<boolean> {
    const sql = `UPDATE remembered_browsers SET revoked_at = ? WHERE bypass_hash = ? AND revoked_at IS NULL${
      userId === undefined ? '' : ' AND user_id = ?'
    }`;
    const params = userId === undefined ? [now, bypassHash] : [now, bypassHash, userId];
    return (await this.q.run(sql, params)) === 1;
  }

  revokeUserRememberedBrowsers(userId: string, now: number): Promise<number> {
    return this.q.run(
      'UPDATE remembered_browsers SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL',
      [now, userId],
    );
  }

  // ---- the half-signed-in state and the bypass a session came from

  async holdPendingUser(requestId: string, userId: string, browserHash: string): Promise<void> {
    await this.q.run(
      'UPDATE authorization_requests SET pending_user = ?, pending_browser = ? WHERE request_id = ?',
      [userId, browserHash, requestId],
    );
  }

  async pendingUser(
    requestId: string,
    now: number,
  ): Promise<{ pending_user: string | null; pending_browser: string | null } | undefined> {
    return one(
      this.q,
      'SELECT pending_user, pending_browser FROM authorization_requests WHERE request_id = ? AND expires_at > ?',
      [requestId, now],
    );
  }

  async clearPendingUser(requestId: string): Promise<void> {
    await this.q.run(
      'UPDATE authorization_requests SET pending_user = NULL, pending_browser = NULL WHERE request_id = ?',
      [requestId],
    );
  }

  async setBrowserSessionBypass(sessionHash: string, bypassHash: string): Promise<void> {
    await this.q.run('UPDATE browser_sessions SET bypass_hash = ? WHERE session_hash = ?', [
      bypassHash,
      sessionHash,
    ]);
  }

  async browserSessionBypass(sessionHash: string): Promise<string | null> {
    const r = await one<{ bypass_hash: string | null }>(
      this.q,
      'SELECT bypass_hash FROM browser_sessions WHERE session_hash = ?',
      [sessionHash],
    );
    return r?.bypass_hash ?? null;
  }

  async setCodeBypass(codeHash: string, bypassHash: string): Promise<void> {
    await this.q.run('UPDATE authorization_codes SET bypass_hash = ? WHERE code_hash = ?', [
      bypassHash,
      codeHash,
    ]);
  }

  /** The session made from a code inherits the bypass of the browser the code was issued to. */
  async sessionBypass(sessionId: string): Promise<string | null> {
    const r = await one<{ bypass_hash: string | null }>(
      this.q,
      'SELECT bypass_hash FROM sessions WHERE session_id = ?',
      [sessionId],
    );
    return r?.bypass_hash ?? null;
  }
}
