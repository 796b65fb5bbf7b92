// The book's Authorization Code grant:
// - the code is single use (one conditional UPDATE), 60 s by default, bound to its client, redirect_uri,
//   PKCE challenge, scopes and user; a reused code revokes the session created from it;
// - redirect_uri and PKCE are checked against the code (oauth/code-binding.ts); a presentation that fails
//   them spends the code all the same, and no session is created from it;
// - the client has been authenticated by the /token endpoint (http/routes/token.ts) before this runs.

import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';
import { codeBindingError } from '../oauth/code-binding.ts';
import { invalidGrant, type OAuthError } from '../oauth/errors.ts';
import { optional, required } from '../oauth/form.ts';
import {
  firstRefreshToken,
  type NewSession,
  newSessionId,
  type PreparedSession,
  prepareSession,
  saveSession,
  sessionExpiry,
  sessionTokens,
} from '../sessions/create.ts';
import type { AuthorizationCodeRecord, ClientRecord, UserRecord } from '../store/types.ts';
import { sha256 } from '../tokens/hash.ts';
import type { TokenResponse } from '../tokens/issue.ts';
import type { GrantHandler } from './types.ts';

export const authorizationCode: GrantHandler = async (ctx, req, client) => {
  const codeHash = sha256(required(req.form, 'code'));
  const redirectUri = required(req.form, 'redirect_uri');
  const verifier = optional(req.form, 'code_verifier');
  const now = seconds(ctx.clock);
  if (ctx.store.dialect === 'postgres')
    return exchangeAtOnce(ctx, client, codeHash, redirectUri, verifier, now);

  // Named before the code is spent, so that spending it records the session made from it in one UPDATE.
  const sessionId = newSessionId();
  const outcome = await ctx.store.transaction(async (tx) => {
    await req.checkClient?.(tx);
    const code = await tx.flow.consumeAuthorizationCode(codeHash, client.client_id, now, sessionId);
    if (!code) return undefined;
    // A refusal from here on is returned, not thrown, so the transaction commits the consumption: a code
    // presented with the wrong redirect_uri or code_verifier is spent, and whoever holds it cannot guess on.
    // It names no session then. Consumption and session stay in one transaction so that a replay racing a
    // good exchange always finds the session it must revoke.
    const refuse = async (refused: OAuthError) => {
      await tx.flow.setCodeSession(codeHash, null);
      return { refused };
    };
    const refused = codeBindingError(code, { redirectUri, verifier });
    if (refused) return refuse(refused);
    const user = await tx.users.byId(code.user_id);
    if (!user) return refuse(userGone());
    const p = sessionFromCode(ctx, { code, user, client, sessionId }, now);
    await saveSession(tx, p, now);
    return { prepared: p };
  });
  if (!outcome) throw await whyUnusable(ctx, codeHash, client.client_id, now);
  if ('refused' in outcome) throw outcome.refused;
  return sessionTokens(ctx, outcome.prepared, now);
};

/**
 * PostgreSQL: the exchange in one round trip instead of a transaction's six (shared with the exchanges of
 * the same turn of the event loop, see store/batcher.ts). The session's id, expiry and
 * first refresh token are known before the code is read, so one statement spends the code and starts the
 * session; the binding is then checked here as above, and a refused exchange takes the session back (the
 * code stays spent, naming no session). No token leaves before that check.
 */
async function exchangeAtOnce(
  ctx: AppContext,
  client: ClientRecord,
  codeHash: string,
  redirectUri: string,
  verifier: string | undefined,
  now: number,
): Promise<TokenResponse> {
  const sessionId = newSessionId();
  const refresh = firstRefreshToken(ctx, sessionId, client, now);
  const spent = await ctx.store.flow.exchangeCodeAtOnce({
    codeHash,
    clientId: client.client_id,
    now,
    sessionId,
    sessionExpiresAt: sessionExpiry(ctx, now),
    refresh,
  });
  if (!spent) throw await whyUnusable(ctx, codeHash, client.client_id, now);
  const { code, user } = spent;
  const refused = codeBindingError(code, { redirectUri, verifier }) ?? (user ? undefined : userGone());
  if (refused || !user) {
    await ctx.store.flow.undoExchange(codeHash, sessionId);
    throw refused;
  }
  return sessionTokens(ctx, sessionFromCode(ctx, { code, user, client, sessionId, refresh }, now), now);
}

/** The session a code starts: the code's user, scope, sign-in time and browser. */
function sessionFromCode(
  ctx: AppContext,
  s: {
    code: AuthorizationCodeRecord & { bypass_hash: string | null };
    user: UserRecord;
    client: ClientRecord;
    sessionId: string;
    refresh?: NewSession['refresh'];
  },
  now: number,
): PreparedSession {
  return prepareSession(
    ctx,
    {
      user: s.user,
      client: s.client,
      scope: s.code.scope,
      grantType: 'authorization_code',
      authTime: s.code.auth_time,
      ip: s.code.ip,
      userAgent: s.code.user_agent,
      sessionId: s.sessionId,
      // The session remembers the 2FA bypass of the browser it came from, for forget_browser.
      bypassHash: s.code.bypass_hash,
      refresh: s.refresh,
    },
    now,
  );
}

const userGone = () => invalidGrant('the user of this code no longer exists');

/** Explains a code the conditional update did not take; a reused one revokes the session it created. */
async function whyUnusable(
  ctx: AppContext,
  codeHash: string,
  clientId: string,
  now: number,
): Promise<OAuthError> {
  const code = await ctx.store.flow.getAuthorizationCode(codeHash);
  if (!code) return invalidGrant('code is not valid').because('code_unknown');
  if (code.client_id !== clientId)
    return invalidGrant('code was not issued to this client').because('code_other_client');
  if (code.used_at !== null) {
    ctx.metrics.reuseDetected('authorization_code');
    if (!code.session_id) return invalidGrant('code was already used').because('code_reused');
    await ctx.store.revokeSession(code.session_id, 'authorization_code_reused', now);
    return invalidGrant('code was already used; the tokens issued from it have been revoked').because(
      'code_reused',
    );
  }
  return invalidGrant('code has expired').because('code_expired');
}
