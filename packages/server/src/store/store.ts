import { AuditStore } from './audit.ts';
import type { Db, Param, Queryable, Row } from './db.ts';
import { one } from './db.ts';
import { DeveloperStore } from './developer.ts';
import { DeviceStore } from './device.ts';
import { LifecycleStore } from './lifecycle.ts';
import { pendingMigrations } from './migrations.ts';
import { SessionStore } from './sessions.ts';
import { TwoFactorStore } from './two-factor.ts';
import type {
  AuthorizationCodeRecord,
  AuthorizationRequestRecord,
  BrowserSessionRecord,
  ClientRecord,
  GrantType,
  RefreshTokenRow,
  SessionRecord,
  SigningKeyRecord,
  UserRecord,
} from './types.ts';

export const MAX_PASSWORD_LIMITED_USERS = 3;

const CLIENT_JSON = ['redirect_uris', 'audiences', 'grant_types'] as const;

function toClient(r: Row): ClientRecord {
  const c = { ...r } as Record<string, unknown>;
  for (const k of CLIENT_JSON) c[k] = JSON.parse(String(r[k]));
  return c as unknown as ClientRecord;
}

function toUser(r: Row): UserRecord {
  return {
    ...(r as unknown as UserRecord),
    group_ids: JSON.parse(String(r.group_ids)),
    subscription_active: Number(r.subscription_active) === 1,
  };
}

/** The SET list of a partial update: given fields only (JSON columns serialised), plus updated_at. */
function assignments(patch: object, jsonColumns: readonly string[], now: number) {
  const sets: string[] = [];
  const params: Param[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    sets.push(`${k} = ?`);
    params.push(jsonColumns.includes(k) ? JSON.stringify(v) : (v as Param));
  }
  sets.push('updated_at = ?');
  params.push(now);
  return { sets: sets.join(', '), params };
}

export type ClientPatch = Partial<Omit<ClientRecord, 'client_id' | 'created_at' | 'client_type' | 'role'>>;
export type UserPatch = Partial<Pick<UserRecord, 'display_name' | 'cust_id' | 'group_ids' | 'env'>>;

/** What a refresh needs about a session, its user and whether its client is disabled, read in one query. */
export interface SessionContext {
  session: SessionRecord;
  user: UserRecord;
  clientDisabledAt: number | null;
}

export interface NewRefreshToken {
  token_hash: string;
  session_id: string;
  client_id: string;
  expires_at: number;
  created_at: number;
  /** The token whose rotation issued this one (none for a session's first token). */
  parent_hash?: string | null;
}

/**
 * Every query Paddock makes, over either database. `transaction` hands the callback a Store bound to
 * one transaction.
 */
export class Store {
  constructor(
    readonly db: Db,
    private readonly q: Queryable = db,
  ) {}

  get dialect() {
    return this.db.dialect;
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    return this.db.transaction((q) => fn(new Store(this.db, q)));
  }

  close() {
    return this.db.close();
  }

  /** Migrations this code needs that the database lacks; throws when the database cannot be read. */
  pendingMigrations(): Promise<number[]> {
    return pendingMigrations(this.q);
  }

  /** Client use tracking, inactivity notices, reactivation and deletion (store/lifecycle.ts). */
  get lifecycle(): LifecycleStore {
    return new LifecycleStore(this.q);
  }

  /** Staff listings and the bearer endpoints' coalesced activity writes (store/sessions.ts). */
  get sessions(): SessionStore {
    return new SessionStore(this.q);
  }

  /** The audit log of administrative acts (store/audit.ts). */
  get auditLog(): AuditStore {
    return new AuditStore(this.q);
  }

  /** Device codes of the Device Authorization Grant (store/device.ts). */
  get device(): DeviceStore {
    return new DeviceStore(this.q);
  }

  /** Client developers, the clients they own, and clients awaiting review (store/developer.ts). */
  get developer(): DeveloperStore {
    return new DeveloperStore(this.q);
  }

  /** TOTP secrets, recovery codes, remembered browsers (store/two-factor.ts). */
  get twoFactor(): TwoFactorStore {
    return new TwoFactorStore(this.q);
  }

  // ---- clients

  async insertClient(c: ClientRecord): Promise<void> {
    await this.q.run(
      `INSERT INTO clients (client_id, client_name, client_type, role, secret_hash, redirect_uris, audiences,
        grant_types, access_token_ttl, refresh_token_ttl, developer_name, developer_email, developer_url,
        owner_email, disabled_at, last_used_at, created_at, updated_at, secret_twice_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        c.client_id,
        c.client_name,
        c.client_type,
        c.role,
        c.secret_hash,
        JSON.stringify(c.redirect_uris),
        JSON.stringify(c.audiences),
        JSON.stringify(c.grant_types),
        c.access_token_ttl,
        c.refresh_token_ttl,
        c.developer_name,
        c.developer_email,
        c.developer_url,
        c.owner_email,
        c.disabled_at,
        c.last_used_at,
        c.created_at,
        c.updated_at,
        c.secret_twice_hash ?? null,
      ],
    );
  }

  async getClient(clientId: string): Promise<ClientRecord | undefined> {
    const r = await one(this.q, 'SELECT * FROM clients WHERE client_id = ?', [clientId]);
    return r && toClient(r);
  }

  async listClients(): Promise<ClientRecord[]> {
    return (await this.q.all('SELECT * FROM clients ORDER BY client_id')).map(toClient);
  }

  /** Applies a partial update; returns false when the client does not exist. */
  async updateClient(clientId: string, patch: ClientPatch, now: number): Promise<boolean> {
    const { sets, params } = assignments(patch, CLIENT_JSON, now);
    return (await this.q.run(`UPDATE clients SET ${sets} WHERE client_id = ?`, [...params, clientId])) === 1;
  }

  async maxAccessTokenTtl(): Promise<number | null> {
    const r = await one<{ m: number | null }>(this.q, 'SELECT MAX(access_token_ttl) AS m FROM clients');
    return r?.m == null ? null : Number(r.m);
  }

  /** Adds a user to a client's password_limited access list, never past the limit, atomically. */
  async allowUser(clientId: string, userId: string, now: number): Promise<'added' | 'already' | 'full'> {
    return this.transaction(async (tx) => {
      if (
        await one(tx.q, 'SELECT 1 AS x FROM client_users WHERE client_id = ? AND user_id = ?', [
          clientId,
          userId,
        ])
      ) {
        return 'already';
      }
      // Lock the client row first so two concurrent adds on PostgreSQL cannot both see room for one more.
      if (this.dialect === 'postgres') {
        await tx.q.all('SELECT client_id FROM clients WHERE client_id = ? FOR UPDATE', [clientId]);
      }
      const r = await one<{ n: number }>(tx.q, 'SELECT COUNT(*) AS n FROM client_users WHERE client_id = ?', [
        clientId,
      ]);
      if (Number(r?.n ?? 0) >= MAX_PASSWORD_LIMITED_USERS) return 'full';
      await tx.q.run('INSERT INTO client_users (client_id, user_id, created_at) VALUES (?, ?, ?)', [
        clientId,
        userId,
        now,
      ]);
      return 'added';
    });
  }

  async disallowUser(clientId: string, userId: string): Promise<boolean> {
    return (
      (await this.q.run('DELETE FROM client_users WHERE client_id = ? AND user_id = ?', [clientId, userId])) >
      0
    );
  }

  async isUserAllowed(clientId: string, userId: string): Promise<boolean> {
    return !!(await one(this.q, 'SELECT 1 AS x FROM client_users WHERE client_id = ? AND user_id = ?', [
      clientId,
      userId,
    ]));
  }

  async allowedUsernames(clientId: string): Promise<string[]> {
    const rows = await this.q.all<{ username: string }>(
      `SELECT u.username FROM client_users cu JOIN users u ON u.user_id = cu.user_id
       WHERE cu.client_id = ? ORDER BY u.username`,
      [clientId],
    );
    return rows.map((r) => r.username);
  }

  // ---- users

  async insertUser(u: UserRecord): Promise<void> {
    await this.q.run(
      `INSERT INTO users (user_id, username, display_name, cust_id, group_ids, env, subscription_active,
        password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        u.user_id,
        u.username,
        u.display_name,
        u.cust_id,
        JSON.stringify(u.group_ids),
        u.env,
        u.subscription_active ? 1 : 0,
        u.password_hash,
        u.created_at,
        u.updated_at,
      ],
    );
  }

  async getUserByUsername(username: string): Promise<UserRecord | undefined> {
    const r = await one(this.q, 'SELECT * FROM users WHERE username = ?', [username]);
    return r && toUser(r);
  }

  async getUserById(userId: string): Promise<UserRecord | undefined> {
    const r = await one(this.q, 'SELECT * FROM users WHERE user_id = ?', [userId]);
    return r && toUser(r);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.q.all('SELECT * FROM users ORDER BY username')).map(toUser);
  }

  async updateUser(userId: string, patch: UserPatch, now: number): Promise<boolean> {
    const { sets, params } = assignments(patch, ['group_ids'], now);
    return (await this.q.run(`UPDATE users SET ${sets} WHERE user_id = ?`, [...params, userId])) === 1;
  }

  async setPasswordHash(userId: string, hash: string, now: number): Promise<boolean> {
    return (
      (await this.q.run('UPDATE users SET password_hash = ?, updated_at = ? WHERE user_id = ?', [
        hash,
        now,
        userId,
      ])) === 1
    );
  }

  async setSubscription(userId: string, active: boolean, now: number): Promise<boolean> {
    return (
      (await this.q.run('UPDATE users SET subscription_active = ?, updated_at = ? WHERE user_id = ?', [
        active ? 1 : 0,
        now,
        userId,
      ])) === 1
    );
  }

  // ---- sessions and refresh tokens

  async insertSession(s: SessionRecord): Promise<void> {
    await this.q.run(
      `INSERT INTO sessions (session_id, user_id, client_id, scope, grant_type, auth_time, expires_at, last_activity,
        revoked_at, revoked_reason, first_ip, first_user_agent, last_ip, last_user_agent, impersonated,
        impersonation_note)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        s.session_id,
        s.user_id,
        s.client_id,
        s.scope,
        s.grant_type,
        s.auth_time,
        s.expires_at,
        s.last_activity,
        s.revoked_at,
        s.revoked_reason,
        s.first_ip,
        s.first_user_agent,
        s.last_ip,
        s.last_user_agent,
        s.impersonated,
        s.impersonation_note,
      ],
    );
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    return one<SessionRecord>(this.q, 'SELECT * FROM sessions WHERE session_id = ?', [sessionId]);
  }

  /** A session with its user and client, in one query. */
  async sessionContext(sessionId: string): Promise<SessionContext | undefined> {
    // The client is the one the token endpoint has just authenticated; of its row only whether it is
    // disabled now, read inside the refresh's transaction. Columns are mapped by name, not by prefix
    // scans: this runs on every refresh.
    const r = await one(
      this.q,
      `SELECT s.session_id, s.user_id, s.client_id, s.scope, s.grant_type, s.auth_time, s.expires_at,
        s.last_activity, s.revoked_at, s.revoked_reason, s.first_ip, s.first_user_agent, s.last_ip, s.last_user_agent,
        s.impersonated, s.impersonation_note, u.username, u.display_name, u.cust_id, u.group_ids, u.env, u.subscription_active, u.password_hash,
        u.created_at AS u_created_at, u.updated_at AS u_updated_at, c.disabled_at AS client_disabled_at
       FROM sessions s JOIN users u ON u.user_id = s.user_id JOIN clients c ON c.client_id = s.client_id
       WHERE s.session_id = ?`,
      [sessionId],
    );
    if (!r) return undefined;
    const session: SessionRecord = {
      session_id: r.session_id as string,
      user_id: r.user_id as string,
      client_id: r.client_id as string,
      scope: r.scope as string | null,
      grant_type: r.grant_type as SessionRecord['grant_type'],
      auth_time: Number(r.auth_time),
      expires_at: Number(r.expires_at),
      last_activity: Number(r.last_activity),
      revoked_at: r.revoked_at === null ? null : Number(r.revoked_at),
      revoked_reason: r.revoked_reason as string | null,
      first_ip: r.first_ip as string | null,
      first_user_agent: r.first_user_agent as string | null,
      last_ip: r.last_ip as string | null,
      last_user_agent: r.last_user_agent as string | null,
      impersonated: Number(r.impersonated),
      impersonation_note: r.impersonation_note as string | null,
    };
    const user = toUser({
      user_id: r.user_id,
      username: r.username,
      display_name: r.display_name,
      cust_id: r.cust_id,
      group_ids: r.group_ids,
      env: r.env,
      subscription_active: r.subscription_active,
      password_hash: r.password_hash,
      created_at: r.u_created_at,
      updated_at: r.u_updated_at,
    });
    return {
      session,
      user,
      clientDisabledAt: r.client_disabled_at === null ? null : Number(r.client_disabled_at),
    };
  }

  /** A user's live sessions with one client, newest first. */
  async liveSessions(userId: string, clientId: string, now: number): Promise<SessionRecord[]> {
    return this.q.all<SessionRecord>(
      `SELECT * FROM sessions WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL AND expires_at > ?
       ORDER BY auth_time DESC, session_id`,
      [userId, clientId, now],
    );
  }

  /** Sessions neither revoked nor expired, across all users and clients (for the metrics). */
  async countActiveSessions(now: number): Promise<number> {
    const r = await one<{ n: number }>(
      this.q,
      'SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL AND expires_at > ?',
      [now],
    );
    return Number(r?.n ?? 0);
  }

  /** Revokes every live session of a user with one client; returns how many. */
  async revokeUserClientSessions(
    userId: string,
    clientId: string,
    reason: string,
    now: number,
  ): Promise<number> {
    return this.q.run(
      `UPDATE sessions SET revoked_at = ?, revoked_reason = ?
       WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL`,
      [now, reason, userId, clientId],
    );
  }

  /** Revokes every live session of a user, with every client; returns how many. */
  async revokeUserSessions(userId: string, reason: string, now: number): Promise<number> {
    return this.q.run(
      'UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL',
      [now, reason, userId],
    );
  }

  /** Marks a session revoked; returns false when it was already revoked or does not exist. */
  async revokeSession(sessionId: string, reason: string, now: number): Promise<boolean> {
    return (
      (await this.q.run(
        'UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE session_id = ? AND revoked_at IS NULL',
        [now, reason, sessionId],
      )) === 1
    );
  }

  async touchSession(
    sessionId: string,
    now: number,
    ip: string | null,
    userAgent: string | null,
  ): Promise<void> {
    await this.q.run(
      'UPDATE sessions SET last_activity = ?, last_ip = ?, last_user_agent = ? WHERE session_id = ?',
      [now, ip, userAgent, sessionId],
    );
  }

  async insertRefreshToken(t: NewRefreshToken): Promise<void> {
    await this.q.run(
      `INSERT INTO refresh_tokens (token_hash, session_id, client_id, expires_at, created_at, parent_hash)
       VALUES (?, ?, ?, ?, ?, ?)`,
      [t.token_hash, t.session_id, t.client_id, t.expires_at, t.created_at, t.parent_hash ?? null],
    );
  }

  /**
   * Single use, enforced by the database: one conditional UPDATE marks the token used and returns its
   * session only if it was unused, unexpired and issued to this client. Two concurrent callers can never
   * both get a row.
   */
  async consumeRefreshToken(tokenHash: string, clientId: string, now: number): Promise<string | undefined> {
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
   * consumeRefreshToken (one conditional UPDATE), and returns its session.
   */
  async consumeSuccessor(parentHash: string, clientId: string, now: number): Promise<string | undefined> {
    const r = await one<{ session_id: string }>(
      this.q,
      `UPDATE refresh_tokens SET used_at = ?
       WHERE parent_hash = ? AND client_id = ? AND used_at IS NULL AND expires_at > ?
       RETURNING session_id`,
      [now, parentHash, clientId, now],
    );
    return r?.session_id;
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenRow | undefined> {
    return one<RefreshTokenRow>(this.q, 'SELECT * FROM refresh_tokens WHERE token_hash = ?', [tokenHash]);
  }

  // ---- signing keys

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.q.all<SigningKeyRecord>('SELECT * FROM signing_keys ORDER BY activates_at, kid');
  }

  async insertSigningKey(k: SigningKeyRecord): Promise<void> {
    await this.q.run(
      `INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, activates_at, retired_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [k.kid, k.alg, k.public_jwk, k.private_key, k.created_at, k.activates_at, k.retired_at],
    );
  }

  /** Inserts a key unless one with its kid exists; returns whether it was inserted. */
  async insertSigningKeyIfAbsent(k: SigningKeyRecord): Promise<boolean> {
    return (
      (await this.q.run(
        `INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, activates_at, retired_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kid) DO NOTHING`,
        [k.kid, k.alg, k.public_jwk, k.private_key, k.created_at, k.activates_at, k.retired_at],
      )) === 1
    );
  }

  /** Retires a key and forgets its private half. */
  async retireSigningKey(kid: string, now: number): Promise<boolean> {
    return (
      (await this.q.run(
        "UPDATE signing_keys SET retired_at = ?, private_key = '' WHERE kid = ? AND retired_at IS NULL",
        [now, kid],
      )) === 1
    );
  }

  // ---- the authorization code flow

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
  async consumeAuthorizationCode(
    codeHash: string,
    clientId: string,
    now: number,
  ): Promise<AuthorizationCodeRecord | undefined> {
    return one<AuthorizationCodeRecord>(
      this.q,
      `UPDATE authorization_codes SET used_at = ?
       WHERE code_hash = ? AND client_id = ? AND used_at IS NULL AND expires_at > ?
       RETURNING *`,
      [now, codeHash, clientId, now],
    );
  }

  async getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined> {
    return one<AuthorizationCodeRecord>(this.q, 'SELECT * FROM authorization_codes WHERE code_hash = ?', [
      codeHash,
    ]);
  }

  async setCodeSession(codeHash: string, sessionId: string): Promise<void> {
    await this.q.run('UPDATE authorization_codes SET session_id = ? WHERE code_hash = ?', [
      sessionId,
      codeHash,
    ]);
  }

  /** Redirect URIs of enabled public clients: their origins may call the API from a browser. */
  async publicRedirectUris(): Promise<string[]> {
    const rows = await this.q.all<{ redirect_uris: string }>(
      "SELECT redirect_uris FROM clients WHERE client_type = 'public' AND disabled_at IS NULL",
    );
    return rows.flatMap((r) => JSON.parse(r.redirect_uris) as string[]);
  }

  async deleteExpiredFlowState(now: number): Promise<void> {
    await this.q.run('DELETE FROM authorization_requests WHERE expires_at <= ?', [now]);
    await this.q.run('DELETE FROM authorization_codes WHERE expires_at <= ? AND session_id IS NULL', [
      now - 86400,
    ]);
  }

  // ---- rate counters

  /**
   * Counts one hit in a fixed window, atomically (one upsert): a window older than `window` seconds
   * starts again at 1. Returns the hits in the current window and when it started.
   */
  async hit(key: string, window: number, now: number): Promise<{ hits: number; window_start: number }> {
    const r = await one<{ hits: number; window_start: number }>(
      this.q,
      `INSERT INTO rate_counters (counter_key, window_start, hits) VALUES (?, ?, 1)
       ON CONFLICT (counter_key) DO UPDATE SET
         hits = CASE WHEN rate_counters.window_start <= ? THEN 1 ELSE rate_counters.hits + 1 END,
         window_start = CASE WHEN rate_counters.window_start <= ? THEN excluded.window_start
                        ELSE rate_counters.window_start END
       RETURNING hits, window_start`,
      [key, now, now - window, now - window],
    );
    return { hits: Number(r!.hits), window_start: Number(r!.window_start) };
  }

  async resetCounter(key: string): Promise<void> {
    await this.q.run('DELETE FROM rate_counters WHERE counter_key = ?', [key]);
  }

  async deleteExpiredCounters(before: number): Promise<number> {
    return this.q.run('DELETE FROM rate_counters WHERE window_start < ?', [before]);
  }
}

export type { GrantType };
