import { one, type Queryable } from './db.ts';
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
