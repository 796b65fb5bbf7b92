/** Step 8: the claims (times, issuer, audience, client_id, scopes, environment, and the claims' types). */
import type { Json } from './json.ts';
import { fail, show } from './verify-error.ts';
import type { Settings } from './verify-options.ts';

/** The audience every access token carries besides its client_id. */
const OAUTH_API_AUDIENCE = 'oauth-api';

/**
 * The verified claims. The book documents these, but "the claims in the payload are not guaranteed to
 * be present or to keep any documented meaning": only the ones checked below are guaranteed.
 */
export interface AccessTokenPayload {
  iss: string;
  exp: number;
  iat: number;
  auth_time: number;
  aud: string | string[];
  client_id?: string;
  session_id?: string;
  sub?: string | null;
  jti?: string;
  scope?: string | null;
  iracing_env?: string | null;
  iracing_cust_id?: number | null;
  iracing_group_ids?: number[] | null;
  [claim: string]: unknown;
}

export function checkClaims(payload: AccessTokenPayload, settings: Settings): void {
  const now = settings.now() / 1000;
  const tolerance = settings.tolerance;
  const { exp, iat, auth_time } = payload as Json;

  if (!isFiniteNumber(exp) || exp <= now - tolerance)
    fail('expired', 'the token has expired (or has no exp)');
  if (!isFiniteNumber(iat) || iat > now + tolerance)
    fail('iat_future', 'the token is issued in the future (or has no iat)');
  if (!isFiniteNumber(auth_time) || auth_time > now + tolerance) {
    fail('auth_time_future', 'the token has auth_time in the future (or none)');
  }
  if (iat < auth_time)
    fail('iat_before_auth_time', 'the token was issued before its session was authenticated');

  if (payload.iss !== settings.issuer) {
    fail('issuer_mismatch', `the token's iss ${show(payload.iss)} is not ${show(settings.issuer)}`);
  }

  // aud must hold "oauth-api" and the client_id of the client the token was issued to (the option when
  // given, else the token's own client_id), plus every audience the resource server requires.
  const aud = payload.aud as unknown;
  const audList =
    typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every(isString) ? aud : undefined;
  const issuedTo = settings.clientId ?? (isString(payload.client_id) ? payload.client_id : undefined);
  const required = [OAUTH_API_AUDIENCE, ...(issuedTo === undefined ? [] : [issuedTo]), ...settings.audiences];
  const absent = audList ? required.filter((a) => !audList.includes(a)) : required;
  if (absent.length > 0) fail('audience_mismatch', `the token's aud lacks ${absent.map(show).join(', ')}`);

  if (settings.clientId !== undefined && payload.client_id !== settings.clientId) {
    fail(
      'client_id_mismatch',
      `the token's client_id ${show(payload.client_id)} is not ${show(settings.clientId)}`,
    );
  }

  const granted = isString(payload.scope) ? payload.scope.split(/\s+/).filter(Boolean) : [];
  const missing = settings.requiredScopes.filter((s) => !granted.includes(s));
  if (missing.length > 0) fail('scope_missing', `the token lacks the scope ${missing.map(show).join(', ')}`);

  const env = payload.iracing_env;
  if (env !== undefined && env !== null && env !== settings.env) {
    fail('env_mismatch', `the token's iracing_env ${show(env)} is not ${show(settings.env)}`);
  }

  const wrongType = (claim: string, expected: string): never =>
    fail('claim_type', `the token's ${claim} is not ${expected}`);
  const present = (v: unknown) => v !== undefined && v !== null;
  if (present(payload.iracing_cust_id) && !Number.isSafeInteger(payload.iracing_cust_id)) {
    wrongType('iracing_cust_id', 'an integer or null');
  }
  const groups = payload.iracing_group_ids as unknown;
  if (present(groups) && !(Array.isArray(groups) && groups.every((g) => Number.isSafeInteger(g)))) {
    wrongType('iracing_group_ids', 'an array of integers or null');
  }
  if (payload.session_id !== undefined && !isString(payload.session_id)) wrongType('session_id', 'a string');
  if (present(payload.sub) && !isString(payload.sub)) wrongType('sub', 'a string or null');
  if (payload.jti !== undefined && !isString(payload.jti)) wrongType('jti', 'a string');
  if (payload.client_id !== undefined && !isString(payload.client_id)) wrongType('client_id', 'a string');
  if (present(payload.scope) && !isString(payload.scope)) wrongType('scope', 'a string or null');
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
