/** The browser half of the authorization code flow: the /authorize address and the callback it ends on. */
import { base64url, randomBytes } from './encoding.ts';
import { OAuthError } from './errors.ts';
import type { CodeChallengeMethod } from './pkce.ts';

/** A fresh, unguessable `state` value: 32 random bytes, base64url. */
export function generateState(): string {
  return base64url(randomBytes(32));
}

export interface AuthorizeUrlOptions {
  /** The server's issuer URL, e.g. `https://auth.example`; endpoints live under `${issuer}/oauth2`. */
  issuer: string;
  clientId: string;
  /** A redirect URI registered for the client, byte for byte (a loopback one with the real port). */
  redirectUri: string;
  /** One or more scopes: a space-separated string or a list. */
  scope?: string | string[];
  /** The value the callback must bring back unchanged: use {@link generateState}. */
  state: string;
  /** The PKCE challenge of a verifier the app keeps: use `codeChallengeS256(generateCodeVerifier())`. */
  codeChallenge: string;
  /** Defaults to `S256`; `plain` sends the verifier itself and is not recommended. */
  codeChallengeMethod?: CodeChallengeMethod;
  /** Space-separated prompt values; `verify` asks the server to forget remembered devices. */
  prompt?: string;
}

/** The issuer without trailing slashes, checked to be an http(s) URL. */
export function issuerBase(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TypeError(`issuer "${issuer}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`issuer "${issuer}" must be an https:// (or http://) URL`);
  }
  if (url.search || url.hash) throw new TypeError(`issuer "${issuer}" must not have a query or a fragment`);
  return issuer.replace(/\/+$/, '');
}

/** The `scope` parameter: the scopes space-separated, as the SDK's options take them as a list or a string. */
export function scopeParam(scope: string | string[] | undefined): string | undefined {
  return Array.isArray(scope) ? scope.join(' ') : scope;
}

/** The address of /authorize to send the user's browser to. */
export function authorizeUrl(options: AuthorizeUrlOptions): string {
  const params: [string, string][] = [
    ['client_id', options.clientId],
    ['redirect_uri', options.redirectUri],
    ['response_type', 'code'],
    ['code_challenge', options.codeChallenge],
    ['code_challenge_method', options.codeChallengeMethod ?? 'S256'],
    ['state', options.state],
  ];
  const scope = scopeParam(options.scope);
  if (scope) params.push(['scope', scope]);
  if (options.prompt) params.push(['prompt', options.prompt]);
  // Percent-encoding throughout (a space is %20, never "+"), as the book's examples show.
  const query = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return `${issuerBase(options.issuer)}/oauth2/authorize?${query}`;
}

export interface CallbackResult {
  code: string;
  state?: string;
}

export interface CallbackOptions {
  /**
   * The issuer the flow was started at. When given, the callback's `iss` (RFC 9207, which Paddock
   * sends) must be exactly this issuer, so that an app using several servers is not mixed up.
   */
  issuer?: string;
}

/**
 * Reads the redirect that ends the flow. The state is checked first and exactly (a callback whose state
 * differs was not started by this app, whatever it carries); then, when an issuer is expected, its
 * `iss`; then an `error` from the server is thrown as an OAuthError with its description and uri; then
 * the code must be there.
 * Pass `undefined` as `expectedState` only if the flow was started without a state.
 */
export function parseCallback(
  url: string | URL,
  expectedState: string | undefined,
  options: CallbackOptions = {},
): CallbackResult {
  let parsed: URL;
  try {
    // A relative string (a path and query, as a server sees a request) is accepted too.
    parsed = new URL(url, 'http://callback.invalid/');
  } catch {
    throw new OAuthError('invalid_callback', { description: 'the callback address is not a URL' });
  }
  const params = parsed.searchParams;
  const state = params.get('state') ?? undefined;
  if (state !== expectedState || params.getAll('state').length > 1) {
    throw new OAuthError('state_mismatch', {
      description:
        expectedState === undefined
          ? 'the callback carries a state but none was sent'
          : state === undefined
            ? 'the callback carries no state'
            : 'the callback state is not the one this sign-in sent',
    });
  }
  if (options.issuer !== undefined) {
    const iss = params.getAll('iss');
    if (iss.length !== 1 || iss[0] !== issuerBase(options.issuer)) {
      throw new OAuthError('issuer_mismatch', {
        description:
          iss.length === 0 ? 'the callback carries no iss' : 'the callback comes from another issuer',
      });
    }
  }
  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description');
    const uri = params.get('error_uri');
    throw new OAuthError(error || 'invalid_callback', {
      ...(description !== null && { description }),
      ...(uri !== null && { uri }),
    });
  }
  if (params.getAll('code').length > 1) {
    throw new OAuthError('invalid_callback', { description: 'the callback carries more than one code' });
  }
  const code = params.get('code');
  if (!code) throw new OAuthError('invalid_callback', { description: 'the callback carries no code' });
  return state === undefined ? { code } : { code, state };
}
