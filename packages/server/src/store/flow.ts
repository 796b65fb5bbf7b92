import { batcherOf } from './batcher.ts';
import { one, type Queryable, type Row } from './db.ts';
import type {
  AuthorizationCodeRecord,
  AuthorizationRequestRecord,
  BrowserSessionRecord,
  UserRecord,
} from './types.ts';
import { toUser } from './users.ts';

/** A code exchange as exchangeCodeAtOnce takes it: the code spent and the session started from it. */
export interface CodeExchange {
  codeHash: string;
  clientId: string;
  now: number;
  sessionId: string;
  sessionExpiresAt: number;
  refresh: { token_hash: string; expires_at: number } | undefined;
}

/** The code an exchange spent, and its user (undefined when the user is gone: no session was started). */
export interface ExchangedCode {
  code: AuthorizationCodeRecord & { bypass_hash: string | null };
  user: UserRecord | undefined;
}

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

  /**
   * PostgreSQL only (a WITH that writes): spends a code and, if its user still exists, starts the session
   * `sessionId` from it with its first refresh token, in one statement, atomic by itself, so that a replay
   * racing it always finds the session to revoke. The code's binding (redirect_uri, PKCE) is the caller's to
   * check on the code returned; a refused exchange is undone with undoExchange. Undefined, with nothing
   * changed, when the code is not spendable by this client now.
   */
  exchangeCodeAtOnce(e: CodeExchange): Promise<ExchangedCode | undefined> {
    const q = this.q;
    return batcherOf(q, 'code_exchange', (es: CodeExchange[]) => new FlowStore(q).exchangeCodes(es)).run(e);
  }

  /**
   * Several exchanges in one statement (the ones asked for in one turn of the event loop), each under its
   * own conditions, answered in order. A code named twice is spent once, by one of them.
   */
  async exchangeCodes(es: readonly CodeExchange[]): Promise<(ExchangedCode | undefined)[]> {
    const rows = await this.q.all<
      AuthorizationCodeRecord & { bypass_hash: string | null; user_row: Row | null; in_n: number }
    >(
      `WITH input AS (
         SELECT * FROM unnest(?::int[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::bigint[], ?::text[],
           ?::bigint[])
           AS i(in_n, in_code_hash, in_client_id, in_now, in_session_id, in_session_expires_at, in_refresh_hash,
             in_refresh_expires_at)
       ), spent AS (
         UPDATE authorization_codes SET used_at = input.in_now, session_id = input.in_session_id
         FROM input
         WHERE code_hash = input.in_code_hash AND client_id = input.in_client_id AND used_at IS NULL
           AND expires_at > input.in_now
         RETURNING authorization_codes.*, input.*
       ), started AS (
         INSERT INTO sessions (session_id, user_id, client_id, scope, grant_type, auth_time, expires_at, last_activity,
           revoked_at, revoked_reason, first_ip, first_user_agent, last_ip, last_user_agent, impersonated,
           impersonation_note, bypass_hash)
         SELECT spent.session_id, spent.user_id, spent.client_id, spent.scope, 'authorization_code', spent.auth_time,
           spent.in_session_expires_at, spent.in_now, NULL, NULL, spent.ip, spent.user_agent, spent.ip,
           spent.user_agent, 0, NULL, spent.bypass_hash
         FROM spent JOIN users u ON u.user_id = spent.user_id
         RETURNING session_id
       ), refresh AS (
         INSERT INTO refresh_tokens (token_hash, session_id, client_id, expires_at, created_at)
         SELECT spent.in_refresh_hash, spent.session_id, spent.client_id, spent.in_refresh_expires_at, spent.in_now
         FROM started JOIN spent ON spent.session_id = started.session_id WHERE spent.in_refresh_hash IS NOT NULL
       )
       SELECT spent.code_hash, spent.client_id, spent.user_id, spent.redirect_uri, spent.scope, spent.code_challenge,
         spent.code_challenge_method, spent.auth_time, spent.ip, spent.user_agent, spent.created_at, spent.expires_at,
         spent.used_at, spent.session_id, spent.bypass_hash, spent.in_n, to_jsonb(u) AS user_row
       FROM spent LEFT JOIN users u ON u.user_id = spent.user_id`,
      [
        es.map((_, i) => i),
        es.map((e) => e.codeHash),
        es.map((e) => e.clientId),
        es.map((e) => e.now),
        es.map((e) => e.sessionId),
        es.map((e) => e.sessionExpiresAt),
        es.map((e) => e.refresh?.token_hash ?? null),
        es.map((e) => e.refresh?.expires_at ?? null),
      ],
    );
    const out: (ExchangedCode | undefined)[] = es.map(() => undefined);
    for (const { user_row, in_n, ...code } of rows)
      out[Number(in_n)] = { code, user: user_row ? toUser(user_row) : undefined };
    return out;
  }

  /** Takes back the session an exchange refused after exchangeCodeAtOnce started it; the code stays spent. */
  async undoExchange(codeHash: string, sessionId: string): Promise<void> {
    await this.q.run(
      `WITH ended AS (DELETE FROM sessions WHERE session_id = ?)
       UPDATE authorization_codes SET session_id = NULL WHERE code_hash = ?`,
      [sessionId, codeHash],
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
