/**
 * The server's answers as the client reads them: their types (the book's shapes), the JSON object or
 * empty body of a successful answer, and the checks that an answer has the shape the book gives it.
 */
import { describe, errorFromResponse, OAuthError, responseDetails } from './errors.ts';
import { isObject, type Json } from './json.ts';

/** The /token answer, the same for every grant. Optional fields are absent when the server omits them. */
export interface TokenSet {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds the access token stays valid. */
  expires_in: number;
  /** Single use: each refresh returns a new one, and the old one must be forgotten. */
  refresh_token?: string;
  /** Seconds the refresh token stays valid. */
  refresh_token_expires_in?: number;
  /** The scopes granted, space-separated (they may differ from those asked for). */
  scope?: string;
}

/** The /iracing/profile answer. */
export interface Profile {
  iracing_name: string;
  iracing_cust_id: number;
}

/** One of the user's sessions with this client, as /sessions describes it. Times are Unix seconds. */
export interface Session {
  /** Opaque; pass it to `revokeSessions`. */
  session_id: string;
  client_id: string;
  client_name: string;
  client_developer_name: string | null;
  client_developer_url: string | null;
  client_developer_email: string | null;
  /** Space-separated scopes, or null when none were granted. */
  scope: string | null;
  scope_descriptions: string[] | null;
  auth_time: number;
  last_activity: number;
  session_expiration: number;
  /** True for the session of the access token that asked. */
  current_session: boolean;
  impersonated: boolean;
  impersonation_note: string | null;
  first_ip: string | null;
  first_continent: string | null;
  first_country: string | null;
  first_subdivisions: string[] | null;
  first_city: string | null;
  first_user_agent_header: string | null;
  first_user_agent_operating_system: string | null;
  first_user_agent_browser: string | null;
  last_ip: string | null;
  last_continent: string | null;
  last_country: string | null;
  last_subdivisions: string[] | null;
  last_city: string | null;
  last_user_agent_header: string | null;
  last_user_agent_operating_system: string | null;
  last_user_agent_browser: string | null;
}

/**
 * The server's RFC 8414 metadata (`/.well-known/oauth-authorization-server`): the fields the SDK reads,
 * and whatever else the server says.
 */
export interface ServerMetadata {
  issuer: string;
  token_endpoint?: string;
  jwks_uri?: string;
  /**
   * Paddock's own field: for how many seconds after a rotation the server answers the rotated refresh
   * token once more, when the answer to that rotation was lost. Absent when the server allows no reuse.
   */
  refresh_token_reuse_grace_seconds?: number;
  [field: string]: unknown;
}

/**
 * An RFC 7662 introspection answer. `active` is always there; the rest only when the token is active.
 * Paddock's `token_type` is `Bearer` for access tokens and `refresh_token` for refresh tokens.
 */
export interface Introspection {
  active: boolean;
  scope?: string;
  client_id?: string;
  sub?: string;
  exp?: number;
  iat?: number;
  aud?: string | string[];
  iss?: string;
  token_type?: string;
  session_id?: string;
  iracing_cust_id?: number | null;
  [field: string]: unknown;
}

/**
 * The JSON object of a successful answer. `path` names the endpoint in errors, after `prefix` (the
 * endpoints' common path).
 */
export async function readJson(res: Response, path: string, prefix = '/oauth2'): Promise<Json> {
  if (!res.ok) throw await errorFromResponse(res);
  let text: string;
  try {
    text = await res.text();
  } catch (cause) {
    throw new OAuthError('network_error', { ...responseDetails(res), description: describe(cause), cause });
  }
  try {
    const body = JSON.parse(text);
    if (isObject(body)) return body;
  } catch {}
  throw new OAuthError('server_error', {
    ...responseDetails(res),
    description: `the ${res.status} answer from ${prefix}${path} is not a JSON object`,
  });
}

/** A successful answer without a body. */
export async function readEmpty(res: Response): Promise<void> {
  if (!res.ok) throw await errorFromResponse(res);
  // Drain the body so the connection can be reused.
  await res.arrayBuffer().catch(() => undefined);
}

export function malformed(path: string): OAuthError {
  return new OAuthError('server_error', { description: `the ${path} answer does not have the book's shape` });
}

/** Checks a /token answer and keeps the book's fields (absent or null optional fields are left out). */
export function tokenSet(body: Json, res: Response): TokenSet {
  const bad = (what: string) =>
    new OAuthError('server_error', { ...responseDetails(res), description: `the /token answer ${what}` });
  if (typeof body.access_token !== 'string' || !body.access_token) throw bad('has no access_token');
  if (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer') {
    throw bad('has a token_type other than Bearer');
  }
  const seconds = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!seconds(body.expires_in)) throw bad('has no valid expires_in');
  const set: TokenSet = {
    access_token: body.access_token,
    token_type: 'Bearer',
    expires_in: body.expires_in as number,
  };
  if (typeof body.refresh_token === 'string' && body.refresh_token) {
    set.refresh_token = body.refresh_token;
    if (seconds(body.refresh_token_expires_in)) {
      set.refresh_token_expires_in = body.refresh_token_expires_in as number;
    }
  }
  if (typeof body.scope === 'string' && body.scope) set.scope = body.scope;
  return set;
}
