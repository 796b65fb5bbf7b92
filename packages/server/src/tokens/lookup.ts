// Finds what a token presented to /revoke or /introspect is: a refresh token this server stored (by its
// hash), or an access token this server signed. Anything else is no token of ours.
import { decodeJwt } from 'jose';
import type { AppContext } from '../context.ts';
import type { SessionFacts, TokenFacts } from '../oauth/introspection.ts';
import type { RefreshTokenRow } from '../store/types.ts';
import { refreshTokenHash } from './issue.ts';
import { type AccessTokenClaims, verifyAccessToken } from './verify.ts';

/** Longer than any token this server issues: not worth hashing or parsing. */
const MAX_TOKEN_LENGTH = 8192;

export type FoundToken =
  | {
      kind: 'refresh_token';
      row: RefreshTokenRow;
      iss: string | undefined;
      aud: string | string[] | undefined;
    }
  | { kind: 'access_token'; claims: AccessTokenClaims };

/**
 * The token, whatever its type: the lookup by hash finds refresh tokens of every format ever issued, and
 * an access token is ours when its signature verifies with this server's keys (expired ones included:
 * the caller decides what expiry means). RFC 7009 lets the server ignore token_type_hint when it can
 * tell the type itself, which it always can here.
 */
export async function findToken(ctx: AppContext, token: string): Promise<FoundToken | undefined> {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const row = await ctx.store.refreshTokens.get(refreshTokenHash(ctx, token));
  if (row) {
    const payload = signedPayload(token);
    const aud = payload?.aud;
    return { kind: 'refresh_token', row, iss: payload?.iss, aud };
  }
  try {
    return { kind: 'access_token', claims: await verifyAccessToken(ctx, token, { allowExpired: true }) };
  } catch {
    return undefined;
  }
}

/** The claims of a stored refresh token: the store knowing its hash vouches for them. */
function signedPayload(token: string) {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

/** The facts introspection judges a found token by, with its session as stored now. */
export async function factsOf(
  ctx: AppContext,
  found: FoundToken,
): Promise<{ token: TokenFacts; session: SessionFacts | undefined } | undefined> {
  if (found.kind === 'refresh_token') {
    const { row } = found;
    const sc = await ctx.store.sessionContext(row.session_id);
    if (!sc) return undefined;
    return {
      session: sc.session,
      token: {
        token_type: 'refresh_token',
        client_id: row.client_id,
        sub: sc.session.user_id,
        session_id: row.session_id,
        scope: sc.session.scope,
        iat: Number(row.created_at),
        exp: Number(row.expires_at),
        aud: found.aud,
        iss: found.iss,
        iracing_cust_id: sc.user.cust_id,
        used: row.used_at !== null,
      },
    };
  }
  const { claims } = found;
  const custId = claims.iracing_cust_id;
  return {
    session: await ctx.store.getSession(claims.session_id),
    token: {
      token_type: 'Bearer',
      client_id: claims.client_id,
      sub: claims.sub,
      session_id: claims.session_id,
      scope: typeof claims.scope === 'string' ? claims.scope : null,
      iat: Number(claims.iat),
      exp: Number(claims.exp),
      aud: claims.aud,
      iss: claims.iss,
      iracing_cust_id: typeof custId === 'number' ? custId : null,
      used: false,
    },
  };
}
