import type { SessionRecord, UserRecord } from './types.ts';
import { toUser } from './users.ts';

/** A session with its user, and whether its client is disabled now: what a refresh and a bearer call need. */
export interface SessionContext {
  session: SessionRecord;
  user: UserRecord;
  clientDisabledAt: number | null;
}

// The client is the one the token endpoint has just authenticated; of its row only whether it is disabled
// now. This runs on every refresh and bearer call: rows are read as arrays, in this order (toSessionContext),
// which are built faster than objects of 26 properties.
export const SESSION_CONTEXT = `SELECT s.session_id, s.user_id, s.client_id, s.scope, s.grant_type, s.auth_time, s.expires_at,
  s.last_activity, s.revoked_at, s.revoked_reason, s.first_ip, s.first_user_agent, s.last_ip, s.last_user_agent,
  s.impersonated, s.impersonation_note, u.username, u.display_name, u.cust_id, u.group_ids, u.env, u.subscription_active,
  u.password_hash, u.created_at, u.updated_at, c.disabled_at`;
/** How many columns SESSION_CONTEXT selects (none has a comma): a statement may add its own after them. */
export const SESSION_CONTEXT_WIDTH = SESSION_CONTEXT.split(',').length;
export const SESSION_CONTEXT_JOINS =
  'JOIN users u ON u.user_id = s.user_id JOIN clients c ON c.client_id = s.client_id';

// Whole statements, built once: the store finds its prepared statement by the text, and a text built at
// each call would be hashed again at each call.
export const SESSION_CONTEXT_BY_ID = `${SESSION_CONTEXT} FROM sessions s ${SESSION_CONTEXT_JOINS} WHERE s.session_id = ?`;
export const SESSION_CONTEXT_BY_REFRESH_TOKEN = `${SESSION_CONTEXT} FROM refresh_tokens r
  JOIN sessions s ON s.session_id = r.session_id ${SESSION_CONTEXT_JOINS} WHERE r.token_hash = ?`;

/** A row of SESSION_CONTEXT, as an array of its values in the order selected. */
export function toSessionContext(r: readonly unknown[]): SessionContext {
  const [
    session_id,
    user_id,
    client_id,
    scope,
    grant_type,
    auth_time,
    expires_at,
    last_activity,
    revoked_at,
    revoked_reason,
    first_ip,
    first_user_agent,
    last_ip,
    last_user_agent,
    impersonated,
    impersonation_note,
    username,
    display_name,
    cust_id,
    group_ids,
    env,
    subscription_active,
    password_hash,
    created_at,
    updated_at,
    client_disabled_at,
  ] = r;
  const session: SessionRecord = {
    session_id: session_id as string,
    user_id: user_id as string,
    client_id: client_id as string,
    scope: scope as string | null,
    grant_type: grant_type as SessionRecord['grant_type'],
    auth_time: Number(auth_time),
    expires_at: Number(expires_at),
    last_activity: Number(last_activity),
    revoked_at: revoked_at === null ? null : Number(revoked_at),
    revoked_reason: revoked_reason as string | null,
    first_ip: first_ip as string | null,
    first_user_agent: first_user_agent as string | null,
    last_ip: last_ip as string | null,
    last_user_agent: last_user_agent as string | null,
    impersonated: Number(impersonated),
    impersonation_note: impersonation_note as string | null,
  };
  const user = toUser({
    user_id,
    username,
    display_name,
    cust_id,
    group_ids,
    env,
    subscription_active,
    password_hash,
    created_at,
    updated_at,
  });
  return {
    session,
    user,
    clientDisabledAt: client_disabled_at === null ? null : Number(client_disabled_at),
  };
}
