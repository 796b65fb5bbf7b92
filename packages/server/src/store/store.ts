import { AuditStore } from './audit.ts';
import { CHANGE_COUNT } from './change-triggers.ts';
import { CounterStore } from './counters.ts';
import type { CachedState, Db, Queryable, Row } from './db.ts';
import { assignments, one } from './db.ts';
import { DeveloperStore } from './developer.ts';
import { DeviceStore } from './device.ts';
import { FlowStore } from './flow.ts';
import { InvitationStore } from './invitations.ts';
import { LifecycleStore } from './lifecycle.ts';
import { pendingMigrations } from './migrations.ts';
import { RefreshTokenStore } from './refresh-tokens.ts';
import { RetentionStore } from './retention.ts';
import {
  SESSION_CONTEXT_BY_ID,
  SESSION_CONTEXT_BY_REFRESH_TOKEN,
  type SessionContext,
  toSessionContext,
} from './session-context.ts';
import { SessionStore } from './sessions.ts';
import { SigningKeyStore } from './signing-keys.ts';
import { TwoFactorStore } from './two-factor.ts';
import type { ClientRecord, GrantType, SessionRecord } from './types.ts';
import { UserStore } from './users.ts';

export type { SessionContext } from './session-context.ts';

export const MAX_PASSWORD_LIMITED_USERS = 3;

const CLIENT_JSON = ['redirect_uris', 'audiences', 'grant_types'] as const;

function toClient(r: Row): ClientRecord {
  const c = { ...r } as Record<string, unknown>;
  for (const k of CLIENT_JSON) c[k] = JSON.parse(String(r[k]));
  return c as unknown as ClientRecord;
}

export type ClientPatch = Partial<Omit<ClientRecord, 'client_id' | 'created_at' | 'client_type' | 'role'>>;

/** What a refresh needs about a session, its user and whether its client is disabled, read in one query. */
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

  /**
   * SQLite: the count the triggers keep of changes to `what` (as Db.changeVersion), read on this Store's
   * connection: inside a transaction, as that transaction sees it, for a couple of microseconds.
   */
  async changeCount(what: CachedState): Promise<number | undefined> {
    const [row] = await this.q.all<{ version: number }>(CHANGE_COUNT, [what]);
    return row?.version;
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

  /** Invitations to password_limited access lists (store/invitations.ts). */
  get invitations(): InvitationStore {
    return new InvitationStore(this.q, this.dialect);
  }

  /** Client developers, the clients they own, and clients awaiting review (store/developer.ts). */
  get developer(): DeveloperStore {
    return new DeveloperStore(this.q);
  }

  /** Deletes ended sessions and expired refresh tokens, in transactions of its own (store/retention.ts). */
  get retention(): RetentionStore {
    return new RetentionStore(this.db);
  }

  /** TOTP secrets, recovery codes, remembered browsers (store/two-factor.ts). */
  get twoFactor(): TwoFactorStore {
    return new TwoFactorStore(this.q);
  }

  /** The browser side of the code flow: requests, browser sessions, consents, codes (store/flow.ts). */
  get flow(): FlowStore {
    return new FlowStore(this.q);
  }

  /** Users (store/users.ts). */
  get users(): UserStore {
    return new UserStore(this.q);
  }

  /** Refresh tokens (store/refresh-tokens.ts). */
  get refreshTokens(): RefreshTokenStore {
    return new RefreshTokenStore(this.q);
  }

  /** Signing keys (store/signing-keys.ts). */
  get signingKeys(): SigningKeyStore {
    return new SigningKeyStore(this.q);
  }

  /** Rate-limit and lockout counters (store/counters.ts). */
  get counters(): CounterStore {
    return new CounterStore(this.q);
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
      await tx.invitations.lockClient(clientId);
      // Pending invitations hold their places (clients/invitations.ts).
      if ((await tx.invitations.placesTaken(clientId, now)) >= MAX_PASSWORD_LIMITED_USERS) return 'full';
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

  // ---- sessions and refresh tokens

  /** A new session; `bypassHash` is the remembered browser it was signed in from (for forget_browser). */
  async insertSession(s: SessionRecord, bypassHash: string | null = null): Promise<void> {
    await this.q.run(
      `INSERT INTO sessions (session_id, user_id, client_id, scope, grant_type, auth_time, expires_at, last_activity,
        revoked_at, revoked_reason, first_ip, first_user_agent, last_ip, last_user_agent, impersonated,
        impersonation_note, bypass_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        bypassHash,
      ],
    );
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    return one<SessionRecord>(this.q, 'SELECT * FROM sessions WHERE session_id = ?', [sessionId]);
  }

  /** A session with its user and client, in one query. */
  async sessionContext(sessionId: string): Promise<SessionContext | undefined> {
    const [r] = await this.q.arrays(SESSION_CONTEXT_BY_ID, [sessionId]);
    return r && toSessionContext(r);
  }

  /** The session of a refresh token (spent or not) with its user and client, in one query. */
  async sessionContextOfRefreshToken(tokenHash: string): Promise<SessionContext | undefined> {
    const [r] = await this.q.arrays(SESSION_CONTEXT_BY_REFRESH_TOKEN, [tokenHash]);
    return r && toSessionContext(r);
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

  /** Redirect URIs of enabled public clients: their origins may call the API from a browser. */
  async publicRedirectUris(): Promise<string[]> {
    const rows = await this.q.all<{ redirect_uris: string }>(
      "SELECT redirect_uris FROM clients WHERE client_type = 'public' AND disabled_at IS NULL",
    );
    return rows.flatMap((r) => JSON.parse(r.redirect_uris) as string[]);
  }
}

export type { GrantType };
