import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';
import { invalidToken } from '../oauth/errors.ts';
import { cachedSessionContext, forgetSessionContext } from '../store/copies.ts';
import type { UserRecord } from '../store/types.ts';
import { OAUTH_API_AUDIENCE } from './issue.ts';
import { jwtPart, signaturesOffloaded } from './jwt.ts';

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

// Public keys by kid and key material; whether a kid is still accepted is asked of the key set each time.
const publicKeys = new Map<string, KeyObject>();

function publicKeyOf(ctx: AppContext, kid: unknown): KeyObject | undefined {
  const jwk = typeof kid === 'string' ? ctx.keys.publicJwk(kid) : undefined;
  if (!jwk) return undefined;
  const cacheKey = `${jwk.kid}.${jwk.x}`;
  let key = publicKeys.get(cacheKey);
  if (!key) {
    key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' });
    publicKeys.set(cacheKey, key);
  }
  return key;
}

/**
 * Tokens whose signature this process has already checked, each with the key that checked it. A client
 * calls with the same access token until it expires, so a repeated call skips the Ed25519 check (the
 * bulk of a bearer call's work) when its kid still names that very key; every other check runs again.
 * Only verified tokens get in, and the oldest leaves first once the map is full.
 */
const checkedSignatures = new Map<string, KeyObject>();
const CHECKED_SIGNATURES_MAX = 10_000;

async function signatureChecked(token: string, input: string, sig: string, key: KeyObject): Promise<boolean> {
  if (checkedSignatures.get(token) === key) return true;
  if (!(await verified(Buffer.from(input), key, Buffer.from(sig, 'base64url')))) return false;
  if (checkedSignatures.size >= CHECKED_SIGNATURES_MAX)
    checkedSignatures.delete(checkedSignatures.keys().next().value as string);
  checkedSignatures.set(token, key);
  return true;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** An Ed25519 signature checked by node:crypto, on libuv's thread pool where signatures are offloaded. */
function verified(data: Buffer, key: KeyObject, signature: Buffer): Promise<boolean> {
  if (!signaturesOffloaded()) return Promise.resolve(verify(null, data, key, signature));
  return new Promise((resolve) => {
    verify(null, data, key, signature, (err, ok) => resolve(!err && ok));
  });
}

/**
 * A compact JWS of ours, its Ed25519 signature verified by node:crypto (on the thread pool where signatures
 * are offloaded; WebCrypto's verify costs several times more per call), unless this process has already
 * verified this very token with this very key, and its claims
 * checked as RFC 7519 and RFC 9068 ask: EdDSA only, no typ (a typed token such as an rt+jwt refresh
 * token is something else), no crit, a known kid, this issuer, the oauth-api audience, exp in the
 * future (reported, not refused: revocation accepts an expired token), nbf (if any) reached, iat (if any)
 * a number. Returns the payload, or 'invalid'.
 */
async function verifyJws(
  ctx: AppContext,
  token: string,
  now: number,
): Promise<{ payload: JWTPayload; expired: boolean } | 'invalid' | 'audience'> {
  const parts = token.split('.');
  if (parts.length !== 3) return 'invalid';
  const [h, p, sig] = parts as [string, string, string];
  if (!B64URL.test(h) || !B64URL.test(p) || !B64URL.test(sig)) return 'invalid';
  const header = jwtPart(h) ?? {};
  if (header.alg !== 'EdDSA' || header.typ !== undefined || header.crit !== undefined) return 'invalid';
  if (header.b64 !== undefined) return 'invalid';
  const key = publicKeyOf(ctx, header.kid);
  if (!key) return 'invalid';
  if (!(await signatureChecked(token, `${h}.${p}`, sig, key))) return 'invalid';
  const payload = jwtPart(p) as JWTPayload | undefined;
  if (!payload) return 'invalid';
  if (payload.iss !== ctx.config.issuer) return 'invalid';
  const aud = payload.aud;
  if (!(aud === OAUTH_API_AUDIENCE || (Array.isArray(aud) && aud.includes(OAUTH_API_AUDIENCE))))
    return 'audience';
  if (payload.iat !== undefined && typeof payload.iat !== 'number') return 'invalid';
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now)) return 'invalid';
  if (typeof payload.exp !== 'number') return 'invalid';
  return { payload, expired: payload.exp <= now };
}

/**
 * Verifies a bearer token issued by this server (signature, expiry, issuer, audience) and that its
 * session is still live; returns its claims and its user. Every failure is invalid_token. With an origin,
 * the request counts as the session's activity.
 */
export async function verifyBearer(
  ctx: AppContext,
  token: string,
  origin?: BearerOrigin,
): Promise<{ claims: AccessTokenClaims; user: UserRecord }> {
  const claims = await verifyAccessToken(ctx, token);
  // The session and its user in one read (on PostgreSQL, a copy until either changes): every bearer
  // endpoint needs the one, the profile the other.
  const sc = await cachedSessionContext(ctx.store, claims.session_id);
  const now = seconds(ctx.clock);
  if (!sc || sc.session.revoked_at !== null)
    throw invalidToken('the session of this access token has been revoked').because('session_ended');
  const session = sc.session;
  if (session.expires_at <= now)
    throw invalidToken('the session of this access token has expired').because('session_ended');
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
    forgetSessionContext(ctx.store, session.session_id);
  }
  return { claims, user: sc.user };
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
  const outcome = await verifyJws(ctx, token, seconds(ctx.clock));
  if (outcome === 'audience') throw invalidToken('access token is not valid').because('audience_mismatch');
  if (outcome === 'invalid') throw invalidToken('access token is not valid').because('token_invalid');
  // Every check but the expiry has passed either way, so allowExpired waives nothing else.
  if (outcome.expired && !options.allowExpired)
    throw invalidToken('access token has expired').because('token_invalid');
  const claims = outcome.payload as AccessTokenClaims;
  if (typeof claims.session_id !== 'string' || typeof claims.client_id !== 'string') {
    throw invalidToken('access token is not valid').because('token_invalid');
  }
  return claims;
}

export function hasScope(claims: AccessTokenClaims, scope: string): boolean {
  return typeof claims.scope === 'string' && claims.scope.split(' ').includes(scope);
}
