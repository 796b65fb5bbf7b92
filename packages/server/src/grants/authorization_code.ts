// The book's Authorization Code grant:
// - the code is single use (one conditional UPDATE), 60 s by default, bound to its client, redirect_uri,
//   PKCE challenge, scopes and user; a reused code revokes the session created from it;
// - redirect_uri must equal the one sent to /authorize (a mismatch is invalid_client, as the book says);
// - PKCE (plain or S256) is verified; a missing or wrong code_verifier is invalid_grant;
// - confidential clients authenticate with their masked secret, public clients with none.

import { authenticateClient } from '../clients/authenticate.ts';
import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';
import { invalidClient, invalidGrant, type OAuthError, unauthorizedClient } from '../oauth/errors.ts';
import { optional, required } from '../oauth/form.ts';
import { verifyPkce } from '../oauth/pkce.ts';
import { prepareSession, saveSession, sessionTokens } from '../sessions/create.ts';
import { sha256 } from '../tokens/hash.ts';
import type { GrantHandler } from './types.ts';

export const authorizationCode: GrantHandler = async (ctx, req) => {
  const client = await authenticateClient(ctx, req.form);
  if (!client.grant_types.includes('authorization_code')) {
    throw unauthorizedClient('client is not allowed to use the authorization_code grant');
  }
  const codeHash = sha256(required(req.form, 'code'));
  const redirectUri = required(req.form, 'redirect_uri');
  const verifier = optional(req.form, 'code_verifier');
  const now = seconds(ctx.clock);

  const prepared = await ctx.store.transaction(async (tx) => {
    const code = await tx.consumeAuthorizationCode(codeHash, client.client_id, now);
    if (!code) return undefined;
    // Throwing rolls the consumption back: a refused request changes nothing.
    if (code.redirect_uri !== redirectUri) {
      throw invalidClient('redirect_uri does not match the one sent to /authorize');
    }
    if (code.code_challenge) {
      if (!verifier)
        throw invalidGrant('code_verifier missing: the authorization request had a code_challenge');
      if (!verifyPkce(code.code_challenge_method ?? 'plain', code.code_challenge, verifier)) {
        throw invalidGrant('PKCE verification failed: code_verifier does not match the code_challenge');
      }
    } else if (verifier) {
      throw invalidGrant('code_verifier sent, but the authorization request had no code_challenge');
    }
    const user = await tx.getUserById(code.user_id);
    if (!user) throw invalidGrant('the user of this code no longer exists');
    const p = prepareSession(
      ctx,
      {
        user,
        client,
        scope: code.scope,
        grantType: 'authorization_code',
        authTime: code.auth_time,
        ip: code.ip,
        userAgent: code.user_agent,
      },
      now,
    );
    await saveSession(tx, p, now);
    await tx.setCodeSession(codeHash, p.session.session_id);
    return p;
  });
  if (!prepared) throw await whyUnusable(ctx, codeHash, client.client_id, now);
  return sessionTokens(ctx, prepared, now);
};

/** Explains a code the conditional update did not take; a reused one revokes the session it created. */
async function whyUnusable(
  ctx: AppContext,
  codeHash: string,
  clientId: string,
  now: number,
): Promise<OAuthError> {
  const code = await ctx.store.getAuthorizationCode(codeHash);
  if (!code) return invalidGrant('code is not valid');
  if (code.client_id !== clientId) return invalidGrant('code was not issued to this client');
  if (code.used_at !== null) {
    ctx.metrics.reuseDetected('authorization_code');
    if (code.session_id) await ctx.store.revokeSession(code.session_id, 'authorization_code_reused', now);
    return invalidGrant('code was already used; the tokens issued from it have been revoked');
  }
  return invalidGrant('code has expired');
}
