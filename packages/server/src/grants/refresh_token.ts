// The book's Refresh Token grant:
// - a refresh token is single use: consumed by one conditional UPDATE, never read-then-write;
// - each use rotates it; presenting a used one revokes its whole session (RFC 9700 reuse detection);
// - revoked or expired sessions, inactive subscriptions and disabled clients get nothing;
// - a refresh token never outlives its session; refresh_token_expires_in is its true remaining life.

import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';
import { invalidGrant, type OAuthError, unauthorizedClient } from '../oauth/errors.ts';
import { required } from '../oauth/form.ts';
import type { SessionContext } from '../store/store.ts';
import { sha256 } from '../tokens/hash.ts';
import { mintAccessToken, mintRefreshToken, tokenResponse } from '../tokens/issue.ts';
import type { GrantHandler } from './types.ts';

export const refreshToken: GrantHandler = async (ctx, req, client) => {
  const tokenHash = sha256(required(req.form, 'refresh_token'));
  const now = seconds(ctx.clock);

  const rotated = await ctx.store.transaction(async (tx) => {
    const sessionId = await tx.consumeRefreshToken(tokenHash, client.client_id, now);
    if (!sessionId) return undefined;
    const sc = await tx.sessionContext(sessionId);
    // Throwing rolls the consumption back: a refused request changes nothing.
    assertLive(sc, now);
    const refresh = mintRefreshToken(ctx, sc.session, sc.client, now);
    await tx.insertRefreshToken({
      token_hash: refresh.token_hash,
      session_id: sessionId,
      client_id: client.client_id,
      expires_at: refresh.expires_at,
      created_at: now,
    });
    await tx.touchSession(sessionId, now, req.ip, req.userAgent);
    return { sc, refresh };
  });
  if (!rotated) throw await whyUnusable(ctx, tokenHash, client.client_id, now);

  const { sc, refresh } = rotated;
  const access = mintAccessToken(ctx, sc.session, sc.user, sc.client, now);
  return tokenResponse(access, refresh, sc.session.scope, now);
};

function assertLive(sc: SessionContext | undefined, now: number): asserts sc is SessionContext {
  if (!sc) throw invalidGrant('refresh_token is not valid');
  if (sc.session.revoked_at !== null)
    throw invalidGrant('the session of this refresh_token has been revoked');
  if (sc.session.expires_at <= now) throw invalidGrant('the session of this refresh_token has expired');
  if (sc.client.disabled_at !== null) throw unauthorizedClient('client is disabled');
  if (!sc.user.subscription_active) throw invalidGrant('user has no active subscription');
}

/** Explains a refresh token the conditional update did not take; a reused one revokes its session. */
async function whyUnusable(
  ctx: AppContext,
  tokenHash: string,
  clientId: string,
  now: number,
): Promise<OAuthError> {
  const row = await ctx.store.getRefreshToken(tokenHash);
  if (!row) return invalidGrant('refresh_token is not valid');
  if (row.client_id !== clientId) return invalidGrant('refresh_token was not issued to this client');
  if (row.used_at !== null) {
    await ctx.store.revokeSession(row.session_id, 'refresh_token_reused', now);
    return invalidGrant('refresh_token was already used; its session has been revoked');
  }
  return invalidGrant('refresh_token has expired');
}
