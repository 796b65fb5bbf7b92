// The parameters of /authorize, checked in the book's order of trust:
// - client_id and redirect_uri first: until both are valid, errors cannot go to the redirect URI;
// - then response_type (only "code"), code_challenge (required for public clients; 43-128 unreserved
//   characters), code_challenge_method (plain by default, or S256), scope, prompt ("verify" is
//   recognised, other values ignored) and state (returned unmodified; at most 1 KiB, since it is
//   stored with the pending request and echoed);
// - a repeated parameter is invalid_request.
import type { ClientRecord } from '../store/types.ts';
import { invalidClient, invalidRequest, OAuthError, unauthorizedClient } from './errors.ts';
import { PKCE_VALUE, type PkceMethod } from './pkce.ts';
import { printable } from './printable.ts';
import { matchRedirectUri, redirectMismatch } from './redirect-match.ts';
import { formatScope, parseScope } from './scopes.ts';

/** Plenty for a CSRF token plus some app data; the pending request stores it, so it is bounded. */
export const STATE_MAX_BYTES = 1024;

export interface AuthorizeParams {
  client: ClientRecord;
  redirect_uri: string;
  state: string | undefined;
  scope: string | null;
  code_challenge: string | null;
  code_challenge_method: PkceMethod | null;
  prompt: string[];
}

/** An error that may be sent to the validated redirect URI. */
export class RedirectableError extends Error {
  constructor(
    readonly oauth: OAuthError,
    readonly redirectUri: string,
    readonly state: string | undefined,
  ) {
    super(oauth.message);
  }
}

export function queryParams(rawQuery: string): { values: Record<string, string>; repeated: Set<string> } {
  const values: Record<string, string> = Object.create(null);
  const repeated = new Set<string>();
  for (const [k, v] of new URLSearchParams(rawQuery)) {
    if (k in values) repeated.add(k);
    else values[k] = v;
  }
  return { values, repeated };
}

export async function checkAuthorizeRequest(
  rawQuery: string,
  findClient: (id: string) => Promise<ClientRecord | undefined>,
): Promise<AuthorizeParams> {
  const { values: p, repeated } = queryParams(rawQuery);
  for (const name of ['client_id', 'redirect_uri'])
    if (repeated.has(name)) throw invalidRequest(`${name} is repeated`);
  if (!p.client_id) throw invalidRequest('client_id missing');
  const client = await findClient(p.client_id);
  if (!client) throw invalidClient('client_id is not valid').because('client_unknown');
  if (!p.redirect_uri) throw invalidRequest('redirect_uri missing');
  if (!matchRedirectUri(client.redirect_uris, p.redirect_uri)) {
    const why = redirectMismatch(client.redirect_uris, p.redirect_uri);
    throw invalidClient(why.description).because(why.reason);
  }
  if (client.disabled_at !== null) throw unauthorizedClient('client is disabled').because('client_disabled');

  const redirectUri = p.redirect_uri;
  // A state that is repeated or too long to keep is not echoed: the error says why instead.
  const stateTooLong = p.state !== undefined && new TextEncoder().encode(p.state).length > STATE_MAX_BYTES;
  const state = repeated.has('state') || stateTooLong ? undefined : p.state;
  const fail = (err: OAuthError) => new RedirectableError(err, redirectUri, state);

  if (repeated.size > 0) throw fail(invalidRequest(`${[...repeated][0]} is repeated`));
  if (stateTooLong) throw fail(invalidRequest(`state is too long (at most ${STATE_MAX_BYTES} bytes)`));
  if (!client.grant_types.includes('authorization_code')) {
    throw fail(
      unauthorizedClient('client is not allowed to use the authorization code flow').because(
        'grant_not_allowed',
      ),
    );
  }
  if (!p.response_type) throw fail(invalidRequest('response_type missing'));
  if (p.response_type !== 'code') {
    throw fail(
      new OAuthError(
        'unsupported_response_type',
        `response type ${printable(p.response_type)} is not supported`,
      ),
    );
  }
  const method = p.code_challenge_method ?? (p.code_challenge ? 'plain' : undefined);
  if (method !== undefined && method !== 'plain' && method !== 'S256') {
    throw fail(invalidRequest('code_challenge_method must be S256 or plain'));
  }
  if (p.code_challenge === undefined || p.code_challenge === '') {
    if (client.client_type === 'public')
      throw fail(
        invalidRequest('code_challenge is required for public clients').because('pkce_missing_public'),
      );
    if (p.code_challenge_method)
      throw fail(invalidRequest('code_challenge_method given without code_challenge'));
  } else if (!PKCE_VALUE.test(p.code_challenge)) {
    throw fail(
      invalidRequest('code_challenge must be 43-128 characters of A-Z, a-z, 0-9, "-", ".", "_" or "~"'),
    );
  }
  let scope: string | null;
  try {
    scope = formatScope(parseScope(p.scope));
  } catch (err) {
    throw fail(err as OAuthError);
  }
  return {
    client,
    redirect_uri: redirectUri,
    state,
    scope,
    code_challenge: p.code_challenge || null,
    code_challenge_method: p.code_challenge ? (method as PkceMethod) : null,
    prompt: (p.prompt ?? '').split(' ').filter((v) => v === 'verify'),
  };
}
