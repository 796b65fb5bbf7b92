import { one, type Queryable } from './db.ts';
import type { AuthorizationCodeRecord, AuthorizationRequestRecord, BrowserSessionRecord } from './types.ts';

/** The browser side of the Authorization Code flow: pending requests, browser sessions, consents and codes. */
export class FlowStore {
  constructor(private readonly q: Queryable) {}

  async insertAuthorizationRequest(r: AuthorizationRequestRecord): Promise<void> {
    await this.q.run(
      `INSERT INTO authorization_requests (request_id, client_id, redirect_uri, scope, state, code_challenge,
        code_challenge_method, prompt, verified_session, created_at, expires_at, device_code_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.request_id,
        r.client_id,
        r.redirect_uri,
        r.scope,
        r.state,
        r.code_challenge,
        r.code_challenge_method,
        r.prompt,
        r.verified_session,
        r.created_at,
        r.expires_at,
        r.device_code_hash ?? null,
      ],
    );
  }

  async getAuthorizationRequest(
    requestId: string,
    now: number,
  ): Promise<AuthorizationRequestRecord | undefined> {
    return one<AuthorizationRequestRecord>(
      this.q,
      'SELECT * FROM authorization_requests WHERE request_id = ? AND expires_at > ?',
      [requestId, now],
    );
  }

  async markRequestVerified(requestId: string, sessionHash: string): Promise<void> {
    await this.q.run('UPDATE authorization_requests SET verified_session = ? WHERE request_id = ?', [
      sessionHash,
      requestId,
    ]);
  }

  /** Ends an authorization request; only one of several concurrent submissions gets true. */
  async finishAuthorizationRequest(requestId: string): Promise<boolean> {
    return (await this.q.run('DELETE FROM authorization_requests WHERE request_id = ?', [requestId])) === 1;
  }

  async insertBrowserSession(s: BrowserSessionRecord): Promise<void> {
    await this.q.run(
      `INSERT INTO browser_sessions (session_hash, user_id, auth_time, created_at, expires_at, revoked_at, ip, user_agent)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [s.session_hash, s.user_id, s.auth_time, s.created_at, s.expires_at, s.revoked_at, s.ip, s.user_agent],
    );
  }

  async getBrowserSession(sessionHash: string, now: number): Promise<BrowserSessionRecord | undefined> {
    return one<BrowserSessionRecord>(
      this.q,
      'SELECT * FROM browser_sessions WHERE session_hash = ? AND revoked_at IS NULL AND expires_at > ?',
      [sessionHash, now],
    );
  }

  async revokeBrowserSession(sessionHash: string, now: number): Promise<void> {
    await this.q.run(
      'UPDATE browser_sessions SET revoked_at = ? WHERE session_hash = ? AND revoked_at IS NULL',
      [now, sessionHash],
    );
  }

  /** Signs a user out of every browser; returns how many sessions ended. */
  async revokeUserBrowserSessions(userId: string, now: number): Promise<number> {
    return this.q.run(
      'UPDATE browser_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?',
      [now, userId, now],
    );
  }

  /** The scopes a user allowed a client; undefined when the user never decided (not the same as none). */
  async getConsent(userId: string, clientId: string): Promise<string[] | undefined> {
    const r = await one<{ scope: string }>(
      this.q,
      'SELECT scope FROM consents WHERE user_id = ? AND client_id = ?',
      [userId, clientId],
    );
    return r ? r.scope.split(' ').filter(Boolean) : undefined;
  }

  /** Remembers the scopes a user allowed a client: the union with what was allowed before. */
  async saveConsent(userId: string, clientId: string, scopes: readonly string[], now: number): Promise<void> {
    const all = [...new Set([...((await this.getConsent(userId, clientId)) ?? []), ...scopes])]
      .sort()
      .join(' ');
    await this.q.run(
      `INSERT INTO consents (user_id, client_id, scope, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at`,
      [userId, clientId, all, now, now],
    );
  }

  async insertAuthorizationCode(c: AuthorizationCodeRecord): Promise<void> {
    await this.q.run(
      `INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, code_challenge,
        code_challenge_method, auth_time, ip, user_agent, created_at, expires_at, used_at, session_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        c.code_hash,
        c.client_id,
        c.user_id,
        c.redirect_uri,
        c.scope,
        c.code_challenge,
        c.code_challenge_method,
        c.auth_time,
        c.ip,
        c.user_agent,
        c.created_at,
        c.expires_at,
        c.used_at,
        c.session_id,
      ],
    );
  }

  /** Single use, as for refresh tokens: one conditional UPDATE takes an unused, unexpired code of this client. */
  /**
   * Spends a code, naming in the same conditional UPDATE the session about to be created from it (the
   * caller clears it again if it creates none). Returns the code with the remembered browser it came
   * from, for the session.
   */
  async consumeAuthorizationCode(
    codeHash: string,
    clientId: string,
    now: number,
    sessionId: string,
  ): Promise<(AuthorizationCodeRecord & { bypass_hash: string | null }) | undefined> {
    return one<AuthorizationCodeRecord & { bypass_hash: string | null }>(
      this.q,
      `UPDATE authorization_codes SET used_at = ?, session_id = ?
       WHERE code_hash = ? AND client_id = ? AND used_at IS NULL AND expires_at > ?
       RETURNING *`,
      [now, sessionId, codeHash, clientId, now],
    );
  }

  async getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined> {
    return one<AuthorizationCodeRecord>(this.q, 'SELECT * FROM authorization_codes WHERE code_hash = ?', [
      codeHash,
    ]);
  }

  async setCodeSession(codeHash: string, sessionId: string | null): Promise<void> {
    await this.q.run('UPDATE authorization_codes SET session_id = ? WHERE code_hash = ?', [
      sessionId,
      codeHash,
    ]);
  }

  async deleteExpiredFlowState(now: number): Promise<void> {
    await this.q.run('DELETE FROM authorization_requests WHERE expires_at <= ?', [now]);
    await this.q.run('DELETE FROM authorization_codes WHERE expires_at <= ? AND session_id IS NULL', [
      now - 86400,
    ]);
  }
}
