import { randomUUID } from 'node:crypto';
import { noteClientUse } from '../clients/usage.ts';
import { endpoints } from '../config.ts';
import type { AppContext } from '../context.ts';
import { OAuthError } from '../oauth/errors.ts';
import type { ClientRecord, SessionRecord, UserRecord } from '../store/types.ts';
import { sha256, timeOrderedHash, timeOrderedUuid } from './hash.ts';
import { jwtPart, macJwt, signJwt } from './jwt.ts';
import { deriveKey } from './master-key.ts';

/** The audience every access token carries besides its client_id and the client's registered audiences. */
export const OAUTH_API_AUDIENCE = 'oauth-api';

/**
 * The typ of refresh tokens. With their own type and algorithm (HS256, never EdDSA), no verifier takes one
 * for an access token (which carries no typ: the book's header is kid, alg, jku).
 */
export const REFRESH_TOKEN_TYP = 'rt+jwt';

// The refresh tokens' MAC key of each server secret (every process derives the same one).
const refreshKeys = new WeakMap<Buffer, Buffer>();

function refreshTokenKey(ctx: AppContext): Buffer {
  let key = refreshKeys.get(ctx.csrfKey);
  if (!key) {
    key = deriveKey(ctx.csrfKey, 'refresh tokens');
    refreshKeys.set(ctx.csrfKey, key);
  }
  return key;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  refresh_token_expires_in?: number;
  scope?: string;
}

/** The refresh tokens' header, the same for all of them. */
const REFRESH_TOKEN_HEADER = Object.freeze({ alg: 'HS256', typ: REFRESH_TOKEN_TYP });

/** The access tokens' header of the key last used: the book's kid, alg and jku, built once per key. */
let accessHeader: Readonly<{ kid: string; alg: 'EdDSA'; jku: string }> | undefined;

function accessTokenHeader(kid: string, jku: string) {
  if (accessHeader?.kid !== kid || accessHeader.jku !== jku)
    accessHeader = Object.freeze({ kid, alg: 'EdDSA', jku });
  return accessHeader;
}

function activeKey(ctx: AppContext) {
  const key = ctx.keys.activeKey();
  if (!key) throw new OAuthError('temporarily_unavailable', 'no signing key is active yet');
  return key;
}

/**
 * An access token: an EdDSA JWT with exactly the book's header fields and claims. Every grant ends here,
 * so this is where a client's use is recorded (for the book's inactivity rule).
 */
export async function mintAccessToken(
  ctx: AppContext,
  session: SessionRecord,
  user: UserRecord,
  client: ClientRecord,
  now: number,
): Promise<{ token: string; expires_in: number }> {
  const { kid, key } = activeKey(ctx);
  const expiresIn = client.access_token_ttl;
  const aud = [client.client_id, OAUTH_API_AUDIENCE];
  for (const a of client.audiences) if (!aud.includes(a)) aud.push(a);
  const token = await signJwt(
    accessTokenHeader(kid, endpoints(ctx.config).jwks),
    {
      session_id: session.session_id,
      iss: ctx.config.issuer,
      exp: now + expiresIn,
      aud,
      sub: user.user_id,
      client_id: client.client_id,
      iat: now,
      jti: randomUUID(),
      auth_time: session.auth_time,
      scope: session.scope,
      iracing_env: user.env,
      iracing_cust_id: user.cust_id,
      iracing_group_ids: user.group_ids,
    },
    key,
  );
  noteClientUse(ctx, client, now);
  return { token, expires_in: expiresIn };
}

/**
 * A refresh token: a JWT (clients in the wild decode it for `exp`) that the server tracks only by its
 * hash, so nobody but the server ever checks its signature: an HMAC under a key derived from the server's
 * secret, a microsecond where an Ed25519 signature costs tens. It never outlives its session.
 */
export function mintRefreshToken(
  ctx: AppContext,
  session: Pick<SessionRecord, 'session_id' | 'expires_at'>,
  client: ClientRecord,
  now: number,
): { token: string; token_hash: string; expires_at: number } {
  const expiresAt = Math.min(now + client.refresh_token_ttl, session.expires_at);
  const jti = timeOrderedUuid();
  const token = macJwt(
    REFRESH_TOKEN_HEADER,
    {
      iss: ctx.config.issuer,
      aud: endpoints(ctx.config).token,
      client_id: client.client_id,
      session_id: session.session_id,
      session_exp: session.expires_at,
      iat: now,
      exp: expiresAt,
      jti,
    },
    refreshTokenKey(ctx),
  );
  return { token, token_hash: storedHash(ctx, jti, token), expires_at: expiresAt };
}

/**
 * Where a refresh token is stored: its SHA-256 hash, which on SQLite is preceded by the millisecond its
 * jti was made in (tokens of earlier versions, whose jti is random, keep the plain hash). A group commit's
 * new tokens then land on the last page of the key's index, not on a random page each: under the refresh
 * grant at c=10, about 5 % more responses a second and a lower p99. PostgreSQL keeps the plain hash, the
 * key of every earlier version: in a rolling upgrade, processes of both serve the same tokens.
 */
export function refreshTokenHash(ctx: AppContext, token: string): string {
  if (ctx.store.dialect !== 'sqlite') return sha256(token);
  return storedHash(ctx, jwtPart(token.split('.')[1] ?? '')?.jti, token);
}

/** The key of a refresh token whose jti is `jti` (see refreshTokenHash). */
function storedHash(ctx: AppContext, jti: unknown, token: string): string {
  return (ctx.store.dialect === 'sqlite' && timeOrderedHash(jti, token)) || sha256(token);
}

/**
 * The session a refresh token names and that session's expiry, as the token says (tokens minted before
 * `session_exp` existed say nothing). Unverified: use them only where the token's hash must match a
 * stored one for anything to happen, which an altered token's does not.
 */
export function refreshTokenSession(token: string): { session_id: string; expires_at: number } | undefined {
  const p = jwtPart(token.split('.')[1] ?? '');
  if (typeof p?.session_id !== 'string' || !Number.isSafeInteger(p.session_exp)) return undefined;
  return { session_id: p.session_id, expires_at: p.session_exp as number };
}

export function tokenResponse(
  access: { token: string; expires_in: number },
  refresh: { token: string; expires_at: number } | undefined,
  scope: string | null,
  now: number,
): TokenResponse {
  const body: TokenResponse = {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: access.expires_in,
  };
  if (refresh) {
    body.refresh_token = refresh.token;
    body.refresh_token_expires_in = refresh.expires_at - now;
  }
  if (scope) body.scope = scope;
  return body;
}
