// Why a request was refused, in plain words, for the client developer reading `paddock dev`'s console or
// its request inspector (/oauth2/dev). An OAuthError carries one of these keys as its `reason`, set where
// the rule refused it; the error description the client receives stays what it was.

export interface Explanation {
  /** The rule that refused the request and what to change. */
  text: string;
  /** The page of the book (docs/book, served under /oauth2/book/) that describes the error. */
  page: string;
}

const client = 'error_invalid_client';
const grant = 'error_invalid_grant';
const request = 'error_invalid_request';
const unauthorized = 'error_unauthorized_client';
const token = 'error_invalid_token';

export const EXPLANATIONS = {
  client_unknown: {
    text: 'no client is registered with this client_id: check it against `paddock clients list`.',
    page: client,
  },
  secret_unmasked: {
    text: 'client_secret was sent unmasked: send base64(sha256(secret + client_id)) instead (the SDK does this for you).',
    page: client,
  },
  secret_masked_twice: {
    text: 'client_secret was masked twice (a masked secret was masked again): the SDK masks for you, so give it the raw secret.',
    page: client,
  },
  secret_wrong: {
    text: 'client_secret does not match the one issued to this client: copy it again, or ask for a new one with `paddock clients rotate-secret`.',
    page: client,
  },
  secret_missing: {
    text: 'this client is confidential: send its masked client_secret with client_id.',
    page: client,
  },
  secret_not_expected: {
    text: 'this client is public and has no secret: send client_id alone (and PKCE at /authorize).',
    page: client,
  },
  client_disabled: {
    text: 'the client is disabled: the operator enables it again with `paddock clients enable`.',
    page: unauthorized,
  },
  grant_not_allowed: {
    text: 'the client is not registered for this grant: add it with `paddock clients update --grant ...`.',
    page: unauthorized,
  },
  redirect_unregistered: {
    text: 'redirect_uri must equal a registered redirect URI byte for byte (scheme, host, port, path, query and trailing slash): register it or send the registered one.',
    page: client,
  },
  redirect_port_mismatch: {
    text: 'redirect_uri differs from a registered one only at the port: ports must match exactly, except that a registered http://127.0.0.1:0/path (or [::1]) admits any port, for 127.0.0.1 and [::1] only, never localhost.',
    page: client,
  },
  redirect_localhost_vs_loopback: {
    text: 'redirect_uri says localhost where the registered URI says 127.0.0.1 or [::1] (or the reverse): the names are compared as written, so use exactly the registered host; the :0 loopback form admits any port only for 127.0.0.1 and [::1], not localhost.',
    page: client,
  },
  redirect_code_mismatch: {
    text: 'redirect_uri at /token must be exactly the one sent to /authorize for this code.',
    page: client,
  },
  pkce_missing_public: {
    text: 'a public client must send code_challenge (and code_challenge_method=S256) to /authorize: create a verifier, send base64url(sha256(verifier)) as the challenge, and the verifier to /token.',
    page: request,
  },
  pkce_verifier_missing: {
    text: 'the authorization request had a code_challenge: send its code_verifier to /token.',
    page: grant,
  },
  pkce_verifier_mismatch: {
    text: 'code_verifier does not match the code_challenge: with S256 the challenge is base64url(sha256(verifier)) without padding; send the verifier of this authorization request. The code is now spent.',
    page: grant,
  },
  pkce_downgrade: {
    text: 'a code_verifier was sent, but the authorization request had no code_challenge: send the challenge to /authorize too.',
    page: grant,
  },
  code_unknown: {
    text: 'the code is not one Paddock issued (or it was mangled): send the code from the redirect as it came, URL-encoded once.',
    page: grant,
  },
  code_reused: {
    text: 'the code was already used: a code works once, and using it again revokes the session issued from it. Exchange each code once and keep the tokens.',
    page: grant,
  },
  code_expired: {
    text: 'the code expired: exchange it right after the redirect (it lives about a minute).',
    page: grant,
  },
  code_other_client: {
    text: 'the code was issued to another client: exchange it with the client_id that started the authorization request.',
    page: grant,
  },
  refresh_reused: {
    text: 'refresh token already used: the session was revoked (reuse detection). Keep the new refresh token from every refresh and use it next; never refresh twice with the same one.',
    page: grant,
  },
  refresh_unknown: {
    text: 'the refresh token is not one Paddock issued: send the latest refresh token as it came.',
    page: grant,
  },
  refresh_expired: {
    text: 'the refresh token expired: sign the user in again.',
    page: grant,
  },
  refresh_other_client: {
    text: 'the refresh token was issued to another client: refresh with the client that obtained it.',
    page: grant,
  },
  session_ended: {
    text: 'the session of this token was revoked or has expired: sign the user in again.',
    page: grant,
  },
  token_invalid: {
    text: 'the access token is missing, malformed, expired or of an ended session: send "Authorization: Bearer <access_token>" with a live token, refreshing it when it expires.',
    page: token,
  },
  scope_insufficient: {
    text: 'the access token lacks the scope this resource needs (iracing.profile for /iracing/profile): ask for it in scope at /authorize or /token.',
    page: 'error_insufficient_scope',
  },
  audience_mismatch: {
    text: "the token's audience does not include the party that presented it: a token is for the audiences registered to its client.",
    page: token,
  },
  rate_limited: {
    text: 'too many requests in the rate-limit window: wait for Retry-After, and keep the session alive with the refresh_token grant instead of signing in again.',
    page: unauthorized,
  },
  user_locked: {
    text: 'too many failed sign-ins for this user: it is locked for a while (see Retry-After); check that the password is masked with the username.',
    page: unauthorized,
  },
  password_unmasked: {
    text: 'the password was sent unmasked: send base64(sha256(password + username)), the username trimmed and lower-cased.',
    page: 'error_access_denied',
  },
  password_refused: {
    text: "username or password is not correct, or the user is not on this client's access list. A password masked twice fails the same way: the SDK masks for you.",
    page: 'error_access_denied',
  },
} as const satisfies Record<string, Explanation>;

export type Reason = keyof typeof EXPLANATIONS;

export function explain(reason: Reason | undefined): Explanation | undefined {
  return reason === undefined ? undefined : EXPLANATIONS[reason];
}
