import type { SessionRecord, UserRecord } from './types.ts';
import { toUser } from './users.ts';

/** A session with its user, and whether its client is disabled now: what a refresh and a bearer call need. */
export interface SessionContext {
  session: SessionRecord;
  user: UserRecord;
  clientDisabledAt: number | null;
}

// The client is the one the token endpoint has just authenticated; of its row only whether it is disabled
// now. Columns are mapped by name, not by prefix scans: this runs on every refresh and bearer call.
export const SESSION_CONTEXT = `SELECT s.session_id, s.user_id, s.client_id, s.scope, s.grant_type, s.auth_time, s.expires_at,
  s.last_activity, s.revoked_at, s.revoked_reason, s.first_ip, s.first_user_agent, s.last_ip, s.last_user_agent,
  s.impersonated, s.impersonation_note, u.username, u.display_name, u.cust_id, u.group_ids, u.env, u.subscription_active,
  u.password_hash, u.created_at AS u_created_at, u.updated_at AS u_updated_at, c.disabled_at AS client_disabled_at`;
export const SESSION_CONTEXT_JOINS =
  'JOIN users u ON u.user_id = s.user_id JOIN clients c ON c.client_id = s.client_id';

// Whole statements, built once: the store finds its prepared statement by the text, and a text built at
// each call would be hashed again at each call.
export const SESSION_CONTEXT_BY_ID = `${SESSION_CONTEXT} FROM sessions s ${SESSION_CONTEXT_JOINS} WHERE s.session_id = ?`;
export const SESSION_CONTEXT_BY_REFRESH_TOKEN = `${SESSION_CONTEXT} FROM refresh_tokens r
  JOIN sessions s ON s.session_id = r.session_id ${SESSION_CONTEXT_JOINS} WHERE r.token_hash = ?`;

export function toSessionContext(r: Record<string, unknown>): SessionContext {
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
