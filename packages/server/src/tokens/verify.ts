import { importJWK, type JWTPayload, jwtVerify } from 'jose';
import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';
import { invalidToken } from '../oauth/errors.ts';
import { OAUTH_API_AUDIENCE } from './issue.ts';

export interface AccessTokenClaims extends JWTPayload {
  session_id: string;
  sub: string;
  client_id: string;
  scope: string | null;
}

/** Where a bearer request came from: recorded as the session's last IP and user agent. */
export interface BearerOrigin {
  ip: string;
  userAgent: string | null;
}

/**
 * Seconds between two last_activity writes of one session by the bearer endpoints, so that a client
 * polling an endpoint does not write on every request.
 */
export const ACTIVITY_INTERVAL = 60;

const imported = new Map<string, Promise<CryptoKey | Uint8Array>>();

/**
 * Verifies a bearer token issued by this server (signature, expiry, issuer, audience) and that its
 * session is still live. Every failure is invalid_token. With an origin, the request counts as the
 * session's activity.
 */
export async function verifyBearer(
  ctx: AppContext,
  token: string,
  origin?: BearerOrigin,
): Promise<AccessTokenClaims> {
  const claims = await verifyAccessToken(ctx, token);
  const session = await ctx.store.getSession(claims.session_id);
  const now = seconds(ctx.clock);
  if (!session || session.revoked_at !== null)
    throw invalidToken('the session of this access token has been revoked');
  if (session.expires_at <= now) throw invalidToken('the session of this access token has expired');
  // The session was just read, so its last activity is known: only a stale one costs a write, and the
  // condition in the UPDATE keeps concurrent requests of the same minute to one write between them.
  if (origin && session.last_activity <= now - ACTIVITY_INTERVAL) {
    await ctx.store.sessions.touch(
      session.session_id,
      now,
      origin.ip,
      origin.userAgent,
      now - ACTIVITY_INTERVAL + 1,
    );
  }
  return claims;
}

/**
 * Verifies that an access token was issued by this server (signature with its own keys, issuer,
 * audience) and, unless `allowExpired`, that it has not expired; its session is not looked at.
 * Revocation (RFC 7009) accepts an expired token: its signature still proves which session it names.
 */
export async function verifyAccessToken(
  ctx: AppContext,
  token: string,
  options: { allowExpired?: boolean } = {},
): Promise<AccessTokenClaims> {
  let payload: JWTPayload;
  try {
    payload = await verifySignedAccessToken(ctx, token, new Date(ctx.clock.now()));
  } catch (err) {
    const expired = (err as { code?: string }).code === 'ERR_JWT_EXPIRED';
    if (!expired) throw invalidToken('access token is not valid');
    if (!options.allowExpired) throw invalidToken('access token has expired');
    // Verified again in full as of a moment before it expired, so nothing but the expiry is waived.
    const exp = (err as { payload?: JWTPayload }).payload?.exp;
    if (typeof exp !== 'number') throw invalidToken('access token is not valid');
    try {
      payload = await verifySignedAccessToken(ctx, token, new Date((exp - 1) * 1000));
    } catch {
      throw invalidToken('access token is not valid');
    }
  }
  const claims = payload as AccessTokenClaims;
  if (typeof claims.session_id !== 'string' || typeof claims.client_id !== 'string') {
    throw invalidToken('access token is not valid');
  }
  return claims;
}

async function verifySignedAccessToken(ctx: AppContext, token: string, at: Date): Promise<JWTPayload> {
  const { payload } = await jwtVerify(
    token,
    async (header) => {
      // Access tokens carry no typ; a typed token (a refresh token, rt+jwt) is something else.
      if (header.typ !== undefined) throw new Error('not an access token');
      const jwk = header.kid ? ctx.keys.publicJwk(header.kid) : undefined;
      if (!jwk) throw new Error('unknown kid');
      let key = imported.get(jwk.kid);
      if (!key) {
        key = importJWK(jwk, 'EdDSA') as Promise<CryptoKey | Uint8Array>;
        imported.set(jwk.kid, key);
      }
      return key;
    },
    {
      issuer: ctx.config.issuer,
      audience: OAUTH_API_AUDIENCE,
      algorithms: ['EdDSA'],
      currentDate: at,
    },
  );
  return payload;
}

export function hasScope(claims: AccessTokenClaims, scope: string): boolean {
  return typeof claims.scope === 'string' && claims.scope.split(' ').includes(scope);
}
