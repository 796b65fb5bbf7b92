import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context.ts';
import type { ClientRecord, GrantType, SessionRecord, UserRecord } from '../store/types.ts';
import { mintAccessToken, mintRefreshToken, type TokenResponse, tokenResponse } from '../tokens/issue.ts';

export interface NewSession {
  user: UserRecord;
  client: ClientRecord;
  scope: string | null;
  grantType: GrantType;
  authTime: number;
  ip: string | null;
  userAgent: string | null;
}

/** Starts a session and issues its first tokens; the session and its refresh token are stored together. */
export async function startSession(ctx: AppContext, s: NewSession, now: number): Promise<TokenResponse> {
  const session: SessionRecord = {
    session_id: randomUUID(),
    user_id: s.user.user_id,
    client_id: s.client.client_id,
    scope: s.scope,
    grant_type: s.grantType,
    auth_time: s.authTime,
    expires_at: now + ctx.config.sessionMaxAge,
    last_activity: now,
    revoked_at: null,
    revoked_reason: null,
    first_ip: s.ip,
    first_user_agent: s.userAgent,
    last_ip: s.ip,
    last_user_agent: s.userAgent,
  };
  const refresh = s.client.grant_types.includes('refresh_token')
    ? mintRefreshToken(ctx, session, s.client, now)
    : undefined;
  await ctx.store.transaction(async (tx) => {
    await tx.insertSession(session);
    if (refresh) {
      await tx.insertRefreshToken({
        token_hash: refresh.token_hash,
        session_id: session.session_id,
        client_id: s.client.client_id,
        expires_at: refresh.expires_at,
        created_at: now,
      });
    }
  });
  const access = mintAccessToken(ctx, session, s.user, s.client, now);
  return tokenResponse(access, refresh, session.scope, now);
}
