import { one, type Queryable } from './db.ts';
import {
  SESSION_CONTEXT,
  SESSION_CONTEXT_JOINS,
  type SessionContext,
  toSessionContext,
} from './session-context.ts';
import type { RefreshTokenRow } from './types.ts';

export interface NewRefreshToken {
  token_hash: string;
  session_id: string;
  client_id: string;
  expires_at: number;
  created_at: number;
}

/** Refresh tokens, stored hashed; each is spent by one conditional UPDATE. */
export class RefreshTokenStore {
  constructor(private readonly q: Queryable) {}

  async insert(t: NewRefreshToken): Promise<void> {
    await this.q.run(
      `INSERT INTO refresh_tokens (token_hash, session_id, client_id, expires_at, created_at)
       VALUES (?, ?, ?, ?, ?)`,
      [t.token_hash, t.session_id, t.client_id, t.expires_at, t.created_at],
    );
  }

  /** Records the token a rotation issued in place of `tokenHash`, in the row that rotation just spent. */
  async linkSuccessor(tokenHash: string, successorHash: string): Promise<void> {
    await this.q.run('UPDATE refresh_tokens SET successor_hash = ? WHERE token_hash = ?', [
      successorHash,
      tokenHash,
    ]);
  }

  /**
   * Single use, enforced by the database: one conditional UPDATE marks the token used and returns its
   * session only if it was unused, unexpired and issued to this client. Two concurrent callers can never
   * both get a row.
   */
  async consume(tokenHash: string, clientId: string, now: number): Promise<string | undefined> {
    const r = await one<{ session_id: string }>(
      this.q,
      `UPDATE refresh_tokens SET used_at = ?
       WHERE token_hash = ? AND client_id = ? AND used_at IS NULL AND expires_at > ?
       RETURNING session_id`,
      [now, tokenHash, clientId, now],
    );
    return r?.session_id;
  }

  /**
   * PostgreSQL only (a WITH that writes): a whole rotation in one statement, atomic by itself. It spends
   * the token only while it is unused, unexpired, this client's and of the session named (whose expiry is
   * the one given), and that session is live (not revoked, not expired, its client enabled, its user
   * subscribed: the refresh grant's own conditions); then stores the successor and records the session's
   * activity. Returns the session with its user, or undefined, with nothing changed, when any condition
   * fails.
   */
  async rotateAtOnce(r: {
    tokenHash: string;
    clientId: string;
    now: number;
    /** The session's expiry as the successor was minted with it. */
    sessionExpiresAt: number;
    successor: NewRefreshToken;
    /** Recorded on the spent token when a retried rotation may look for it (the reuse grace). */
    linkSuccessor: boolean;
    ip: string | null;
    userAgent: string | null;
  }): Promise<SessionContext | undefined> {
    const row = await one(
      this.q,
      `WITH spent AS (
         UPDATE refresh_tokens SET used_at = ?::bigint, successor_hash = ?::text
         WHERE token_hash = ? AND client_id = ? AND used_at IS NULL AND expires_at > ?::bigint
           AND session_id = ?
           AND EXISTS (
             SELECT 1 FROM sessions s JOIN users u ON u.user_id = s.user_id JOIN clients c ON c.client_id = s.client_id
             WHERE s.session_id = refresh_tokens.session_id AND s.revoked_at IS NULL AND s.expires_at > ?::bigint
               AND s.expires_at = ?::bigint AND c.disabled_at IS NULL AND u.subscription_active <> 0)
         RETURNING session_id
       ), successor AS (
         INSERT INTO refresh_tokens (token_hash, session_id, client_id, expires_at, created_at)
         SELECT ?::text, session_id, ?::text, ?::bigint, ?::bigint FROM spent
       ), touched AS (
         UPDATE sessions SET last_activity = ?::bigint, last_ip = ?::text, last_user_agent = ?::text
         WHERE session_id IN (SELECT session_id FROM spent)
       )
       ${SESSION_CONTEXT} FROM spent JOIN sessions s ON s.session_id = spent.session_id ${SESSION_CONTEXT_JOINS}`,
      [
        r.now,
        r.linkSuccessor ? r.successor.token_hash : null,
        r.tokenHash,
        r.clientId,
        r.now,
        r.successor.session_id,
        r.now,
        r.sessionExpiresAt,
        r.successor.token_hash,
        r.successor.client_id,
        r.successor.expires_at,
        r.successor.created_at,
        r.now,
        r.ip,
        r.userAgent,
      ],
    );
    return row && toSessionContext(row);
  }

  /**
   * Consumes the unused successor of a rotated refresh token, with the same single-use guarantee as
   * consume (one conditional UPDATE), and returns its session.
   */
  async consumeSuccessor(tokenHash: string, clientId: string, now: number): Promise<string | undefined> {
    const r = await one<{ session_id: string }>(
      this.q,
      `UPDATE refresh_tokens SET used_at = ?
       WHERE token_hash = (SELECT successor_hash FROM refresh_tokens WHERE token_hash = ?)
         AND client_id = ? AND used_at IS NULL AND expires_at > ?
       RETURNING session_id`,
      [now, tokenHash, clientId, now],
    );
    return r?.session_id;
  }

  async get(tokenHash: string): Promise<RefreshTokenRow | undefined> {
    return one<RefreshTokenRow>(this.q, 'SELECT * FROM refresh_tokens WHERE token_hash = ?', [tokenHash]);
  }
}
