// Token introspection (RFC 7662) as pure rules: who may learn about a token, when it is active, and
// what an active token's answer says.
import type { ClientRole } from '../store/types.ts';

/** What the server knows of a token it found, read from the token's verified claims and its session. */
export interface TokenFacts {
  /** "Bearer" for access tokens (the token_type of RFC 6749 section 5.1); "refresh_token" otherwise. */
  token_type: 'Bearer' | 'refresh_token';
  client_id: string;
  sub: string;
  session_id: string;
  scope: string | null;
  iat: number;
  exp: number;
  aud: string | string[] | undefined;
  iss: string | undefined;
  iracing_cust_id: number | null;
  /** For a refresh token: it was already used (rotated). Access tokens are never "used". */
  used: boolean;
}

export interface SessionFacts {
  revoked_at: number | null;
  expires_at: number;
}

export interface Caller {
  client_id: string;
  role: ClientRole;
}

export const INACTIVE = { active: false } as const;

/**
 * A resource server may introspect any token; any other client only access tokens whose audience
 * includes it, and refresh tokens issued to it. Everything else is answered as inactive (RFC 7662
 * section 2.2), so a client cannot probe other clients' tokens.
 */
export function mayIntrospect(caller: Caller, token: TokenFacts): boolean {
  if (caller.role === 'resource-server') return true;
  if (token.token_type === 'refresh_token') return token.client_id === caller.client_id;
  const aud = typeof token.aud === 'string' ? [token.aud] : (token.aud ?? []);
  return aud.includes(caller.client_id);
}

/** Active only while the token is unexpired (and, for a refresh token, unused) and its session is live. */
export function isActive(token: TokenFacts, session: SessionFacts | undefined, now: number): boolean {
  if (token.used || token.exp <= now) return false;
  return !!session && session.revoked_at === null && session.expires_at > now;
}

export function introspectionResponse(token: TokenFacts) {
  return {
    active: true as const,
    scope: token.scope ?? undefined,
    client_id: token.client_id,
    sub: token.sub,
    exp: token.exp,
    iat: token.iat,
    aud: token.aud,
    iss: token.iss,
    token_type: token.token_type,
    session_id: token.session_id,
    iracing_cust_id: token.iracing_cust_id,
  };
}
