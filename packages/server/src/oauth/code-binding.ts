// What ties an authorization code to the request that obtained it (the book's Authorization Code Grant):
// - redirect_uri must equal the one sent to /authorize; a mismatch is invalid_client, as the book says;
// - with a code_challenge, the code_verifier must be present and match it by its method (invalid_grant);
// - without one, a code_verifier is invalid_grant (RFC 9700 section 2.1.1: PKCE downgrade).
import { invalidClient, invalidGrant, type OAuthError } from './errors.ts';
import { type PkceMethod, verifyPkce } from './pkce.ts';

export interface IssuedCode {
  redirect_uri: string;
  code_challenge: string | null;
  code_challenge_method: PkceMethod | null;
}

/** Why this presentation of a code is refused, or undefined when it matches the code's request. */
export function codeBindingError(
  code: IssuedCode,
  presented: { redirectUri: string; verifier: string | undefined },
): OAuthError | undefined {
  if (code.redirect_uri !== presented.redirectUri) {
    return invalidClient('redirect_uri does not match the one sent to /authorize').because(
      'redirect_code_mismatch',
    );
  }
  if (code.code_challenge) {
    if (!presented.verifier) {
      return invalidGrant('code_verifier missing: the authorization request had a code_challenge').because(
        'pkce_verifier_missing',
      );
    }
    if (!verifyPkce(code.code_challenge_method ?? 'plain', code.code_challenge, presented.verifier)) {
      return invalidGrant(
        'PKCE verification failed: code_verifier does not match the code_challenge',
      ).because('pkce_verifier_mismatch');
    }
  } else if (presented.verifier) {
    return invalidGrant('code_verifier sent, but the authorization request had no code_challenge').because(
      'pkce_downgrade',
    );
  }
  return undefined;
}
