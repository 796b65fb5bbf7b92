/** The verifier's one error type, its stable codes, and the helpers that build its messages. */

export type TokenVerificationErrorCode =
  | 'malformed'
  | 'kid_missing'
  | 'alg_missing'
  | 'alg_none'
  | 'alg_unsupported'
  | 'jku_missing'
  | 'jku_invalid'
  | 'jku_not_https'
  | 'jku_userinfo'
  | 'jku_query'
  | 'jku_fragment'
  | 'jku_host'
  | 'jku_not_pinned'
  | 'jku_throttled'
  | 'jwks_redirect'
  | 'jwks_fetch_failed'
  | 'jwks_invalid'
  | 'kid_unknown'
  | 'kid_ambiguous'
  | 'key_mismatch'
  | 'signature_invalid'
  | 'expired'
  | 'iat_future'
  | 'auth_time_future'
  | 'iat_before_auth_time'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'client_id_mismatch'
  | 'scope_missing'
  | 'env_mismatch'
  | 'claim_type';

/** Why a token was rejected. `code` is stable; `message` is for logs (it never contains the token). */
export class TokenVerificationError extends Error {
  readonly code: TokenVerificationErrorCode;
  constructor(code: TokenVerificationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenVerificationError';
    this.code = code;
  }
}

export function fail(code: TokenVerificationErrorCode, message: string, cause?: unknown): never {
  throw new TokenVerificationError(code, message, cause === undefined ? undefined : { cause });
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A short, quoted rendering of an untrusted value for an error message. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
