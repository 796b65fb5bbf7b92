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

const imported = new Map<string, Promise<CryptoKey | Uint8Array>>();

/**
 * Verifies a bearer token issued by this server (signature, expiry, issuer, audience) and that its
 * session is still live. Every failure is invalid_token.
 */
export async function verifyBearer(ctx: AppContext, token: string): Promise<AccessTokenClaims> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
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
        currentDate: new Date(ctx.clock.now()),
      },
    ));
  } catch (err) {
    const { code, claim } = err as { code?: string; claim?: string };
    if (code === 'ERR_JWT_EXPIRED') throw invalidToken('access token has expired').because('token_invalid');
    if (claim === 'aud') {
      throw invalidToken('access token is not valid').because('audience_mismatch');
    }
    throw invalidToken('access token is not valid').because('token_invalid');
  }
  const claims = payload as AccessTokenClaims;
  if (typeof claims.session_id !== 'string' || typeof claims.client_id !== 'string') {
    throw invalidToken('access token is not valid').because('token_invalid');
  }
  const session = await ctx.store.getSession(claims.session_id);
  const now = seconds(ctx.clock);
  if (!session || session.revoked_at !== null)
    throw invalidToken('the session of this access token has been revoked').because('session_ended');
  if (session.expires_at <= now)
    throw invalidToken('the session of this access token has expired').because('session_ended');
  return claims;
}

export function hasScope(claims: AccessTokenClaims, scope: string): boolean {
  return typeof claims.scope === 'string' && claims.scope.split(' ').includes(scope);
}
