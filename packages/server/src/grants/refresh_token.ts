// The book's Refresh Token grant:
// - a refresh token is single use: consumed by one conditional UPDATE, never read-then-write;
// - each use rotates it; presenting a used one revokes its whole session (RFC 9700 reuse detection),
//   unless the operator allows a reuse grace for a rotation whose answer was lost (see `unusable`);
// - revoked or expired sessions, inactive subscriptions and disabled clients get nothing;
// - a refresh token never outlives its session; refresh_token_expires_in is its true remaining life.

import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';
import { invalidGrant, unauthorizedClient } from '../oauth/errors.ts';
import { required } from '../oauth/form.ts';
import { mayRetryRotation } from '../oauth/refresh-reuse.ts';
import type { SessionContext, Store } from '../store/store.ts';
import type { ClientRecord } from '../store/types.ts';
import {
  mintAccessToken,
  mintRefreshToken,
  refreshTokenHash,
  refreshTokenSession,
  tokenResponse,
} from '../tokens/issue.ts';
import type { GrantHandler, GrantRequest } from './types.ts';

export const refreshToken: GrantHandler = async (ctx, req, client) => {
  const token = required(req.form, 'refresh_token');
  const tokenHash = refreshTokenHash(ctx, token);
  const now = seconds(ctx.clock);

  const rotated =
    (ctx.store.dialect === 'postgres'
      ? await rotateAtOnce(ctx, req, client, token, tokenHash, now)
      : undefined) ??
    (await ctx.store.transaction(async (tx) => {
      await req.checkClient?.(tx);
      const sessionId = await tx.refreshTokens.consume(tokenHash, client.client_id, now);
      return sessionId ? rotate(ctx, tx, req, client, sessionId, tokenHash, now) : undefined;
    }));
  const { sc, refresh } = rotated ?? (await unusable(ctx, req, client, tokenHash, now));
  const access = await mintAccessToken(ctx, sc.session, sc.user, client, now);
  return tokenResponse(access, refresh, sc.session.scope, now);
};

/** Issues the refresh token that takes the place of one just consumed, in the consuming transaction. */
async function rotate(
  ctx: AppContext,
  tx: Store,
  req: GrantRequest,
  client: ClientRecord,
  sessionId: string,
  parentHash: string | null,
  now: number,
) {
  // The token was consumed for this (authenticated) client, and a token's client is its session's.
  const sc = await tx.sessionContext(sessionId);
  // Throwing rolls the consumption back: a refused request changes nothing.
  assertLive(sc, now);
  const refresh = mintRefreshToken(ctx, sc.session, client, now);
  await tx.refreshTokens.insert({
    token_hash: refresh.token_hash,
    session_id: sessionId,
    client_id: client.client_id,
    expires_at: refresh.expires_at,
    created_at: now,
  });
  // Only a retried rotation looks for the successor (within the reuse grace): without the grace, the
  // default, nothing will, and the write is saved. Turning the grace on covers rotations from then on.
  if (parentHash && ctx.config.refreshReuseGrace > 0)
    await tx.refreshTokens.linkSuccessor(parentHash, refresh.token_hash);
  await tx.touchSession(sessionId, now, req.ip, req.userAgent);
  return { sc, refresh };
}

/**
 * PostgreSQL: the rotation in one round trip instead of a transaction's six, shared with the rotations
 * other requests ask for in the same turn of the event loop (store/batcher.ts). The successor's expiry
 * depends on its session's, which never changes and which the token itself says (`session_exp`; an older
 * token's session is read first). One statement then spends the token and stores the successor under the
 * conditions `rotate` checks; as it matches the token by its hash, a token with altered claims spends
 * nothing. Whatever it refuses goes on to the transaction, which refuses it again and says why.
 */
async function rotateAtOnce(
  ctx: AppContext,
  req: GrantRequest,
  client: ClientRecord,
  token: string,
  tokenHash: string,
  now: number,
): Promise<Awaited<ReturnType<typeof rotate>> | undefined> {
  let session = refreshTokenSession(token);
  if (!session) {
    const sc = await ctx.store.sessionContextOfRefreshToken(tokenHash);
    if (!sc || sc.session.client_id !== client.client_id) return undefined;
    session = sc.session;
  }
  const refresh = mintRefreshToken(ctx, session, client, now);
  const sc = await ctx.store.refreshTokens.rotateAtOnce({
    tokenHash,
    clientId: client.client_id,
    now,
    sessionExpiresAt: session.expires_at,
    successor: {
      token_hash: refresh.token_hash,
      session_id: session.session_id,
      client_id: client.client_id,
      expires_at: refresh.expires_at,
      created_at: now,
    },
    linkSuccessor: ctx.config.refreshReuseGrace > 0,
    ip: req.ip,
    userAgent: req.userAgent,
  });
  return sc && { sc, refresh };
}

function assertLive(sc: SessionContext | undefined, now: number): asserts sc is SessionContext {
  if (!sc) throw invalidGrant('refresh_token is not valid').because('refresh_unknown');
  if (sc.session.revoked_at !== null)
    throw invalidGrant('the session of this refresh_token has been revoked').because('session_ended');
  if (sc.session.expires_at <= now)
    throw invalidGrant('the session of this refresh_token has expired').because('session_ended');
  // Re-read in the transaction: a client disabled since it was authenticated gets nothing.
  if (sc.clientDisabledAt !== null) throw unauthorizedClient('client is disabled').because('client_disabled');
  if (!sc.user.subscription_active) throw invalidGrant('user has no active subscription');
}

/**
 * A refresh token the conditional update did not take. A used one revokes its session, except within
 * the reuse grace (PADDOCK_REFRESH_REUSE_GRACE): the token just rotated, whose successor was never used,
 * is rotated again, once, and the unused successor is consumed so it can never be used.
 */
async function unusable(
  ctx: AppContext,
  req: GrantRequest,
  client: ClientRecord,
  tokenHash: string,
  now: number,
): Promise<Awaited<ReturnType<typeof rotate>>> {
  const clientId = client.client_id;
  const row = await ctx.store.refreshTokens.get(tokenHash);
  if (!row) throw invalidGrant('refresh_token is not valid').because('refresh_unknown');
  if (row.client_id !== clientId)
    throw invalidGrant('refresh_token was not issued to this client').because('refresh_other_client');
  if (row.used_at !== null) {
    if (mayRetryRotation(row.used_at, now, ctx.config.refreshReuseGrace)) {
      const again = await ctx.store.transaction(async (tx) => {
        await req.checkClient?.(tx);
        // Only one concurrent retry can consume the successor. This token is not linked to the new one,
        // so it cannot be retried a second time: its successor stays the consumed one.
        const sessionId = await tx.refreshTokens.consumeSuccessor(tokenHash, clientId, now);
        return sessionId ? rotate(ctx, tx, req, client, sessionId, null, now) : undefined;
      });
      if (again) return again;
    }
    ctx.metrics.reuseDetected('refresh_token');
    await ctx.store.revokeSession(row.session_id, 'refresh_token_reused', now);
    throw invalidGrant('refresh_token was already used; its session has been revoked').because(
      'refresh_reused',
    );
  }
  throw invalidGrant('refresh_token has expired').because('refresh_expired');
}
