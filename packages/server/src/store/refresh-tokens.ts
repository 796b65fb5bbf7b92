import { batcherOf } from './batcher.ts';
import { one, type Queryable } from './db.ts';
import {
  SESSION_CONTEXT,
  SESSION_CONTEXT_JOINS,
  SESSION_CONTEXT_WIDTH,
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

/** A rotation as rotateAtOnce takes it: the token spent and the successor stored in its place. */
export interface Rotation {
  tokenHash: string;
  clientId: string;
  now: number;
  /** The session's expiry as the successor was minted with it. */
  sessionExpiresAt: number;
  /** Created at `now`, for the session and client named here. */
  successor: NewRefreshToken;
  /** Recorded on the spent token when a retried rotation may look for it (the reuse grace). */
  linkSuccessor: boolean;
  ip: string | null;
  userAgent: string | null;
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
   * fails. The rotations asked for in one turn of the event loop share one statement (see rotateMany).
   */
  rotateAtOnce(r: Rotation): Promise<SessionContext | undefined> {
    const q = this.q;
    const rotations = batcherOf(q, 'refresh_rotation', (rs: Rotation[]) =>
      new RefreshTokenStore(q).rotateMany(rs),
    );
    return rotations.run(r);
  }

  /**
   * Several rotations in one statement, each under its own conditions, answered in order. The statement
   * is atomic as a whole; among its rotations, a token named twice is spent once (by one of them: the
   * other finds it used), and rows are locked as in separate statements, so a rotation racing another
   * (in this batch or elsewhere) sees it committed or waits for it.
   */
  async rotateMany(rs: readonly Rotation[]): Promise<(SessionContext | undefined)[]> {
    const col = <K extends keyof Rotation>(k: K) => rs.map((r) => r[k]);
    const rows = await this.q.arrays(
      `WITH input AS (
         SELECT * FROM unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[],
           ?::bigint[], ?::boolean[], ?::text[], ?::text[])
           AS i(n, token_hash, client_id, session_id, session_expires_at, now, successor_hash,
             successor_expires_at, link, ip, user_agent)
       ), spent AS (
         UPDATE refresh_tokens SET used_at = input.now,
           successor_hash = CASE WHEN input.link THEN input.successor_hash END
         FROM input
         WHERE refresh_tokens.token_hash = input.token_hash AND refresh_tokens.client_id = input.client_id
           AND refresh_tokens.used_at IS NULL AND refresh_tokens.expires_at > input.now
           AND refresh_tokens.session_id = input.session_id
           AND EXISTS (
             SELECT 1 FROM sessions s JOIN users u ON u.user_id = s.user_id JOIN clients c ON c.client_id = s.client_id
             WHERE s.session_id = refresh_tokens.session_id AND s.revoked_at IS NULL AND s.expires_at > input.now
               AND s.expires_at = input.session_expires_at AND c.disabled_at IS NULL AND u.subscription_active <> 0)
         RETURNING input.*
       ), successor AS (
         INSERT INTO refresh_tokens (token_hash, session_id, client_id, expires_at, created_at)
         SELECT successor_hash, session_id, client_id, successor_expires_at, now FROM spent
       ), touched AS (
         UPDATE sessions SET last_activity = spent.now, last_ip = spent.ip, last_user_agent = spent.user_agent
         FROM spent WHERE sessions.session_id = spent.session_id
       )
       ${SESSION_CONTEXT}, spent.n FROM spent JOIN sessions s ON s.session_id = spent.session_id ${SESSION_CONTEXT_JOINS}`,
      [
        rs.map((_, i) => i),
        col('tokenHash'),
        col('clientId'),
        rs.map((r) => r.successor.session_id),
        col('sessionExpiresAt'),
        col('now'),
        rs.map((r) => r.successor.token_hash),
        rs.map((r) => r.successor.expires_at),
        col('linkSuccessor'),
        col('ip'),
        col('userAgent'),
      ],
    );
    const out: (SessionContext | undefined)[] = rs.map(() => undefined);
    for (const row of rows) out[Number(row[SESSION_CONTEXT_WIDTH])] = toSessionContext(row);
    return out;
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
