// The browser side of the authorization code flow over HTTP, for the tests organised by the book's
// sections: users and clients made through the project's own modules, /authorize URLs, the sign-in and
// consent forms as a person submits them, and the redirect back to the app.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createUser } from '../src/accounts/users.ts';
import { type ClientInput, createClient } from '../src/clients/registry.ts';
import { mask } from '../src/oauth/masking.ts';
import type { Store } from '../src/store/store.ts';
import { noteSecret, type TestServer } from './helpers.ts';
import { type Browser, hidden, type Page } from './http-browser.ts';

export interface TestUser {
  username: string;
  password: string;
  userId: string;
}

let seq = 0;

export async function newUser(store: Store, name = 'Ada Lovelace'): Promise<TestUser> {
  const username = `flow-${process.pid}-${++seq}@example.com`;
  const password = `pw-${randomBytes(9).toString('base64url')}-Correct-Horse`;
  const user = await createUser(store, { username, display_name: name, password }, 0);
  noteSecret(password, mask(password, username));
  return { username, password, userId: user.user_id };
}

/** Registers a client (a unique id unless given); returns its id and masked secret, if any. */
export async function newClient(
  store: Store,
  input: Partial<ClientInput> & { redirect_uris: string[] },
): Promise<{ clientId: string; maskedSecret?: string }> {
  const clientId = input.client_id ?? `flow-client-${process.pid}-${++seq}`;
  const { client_secret } = await createClient(
    store,
    { client_name: 'Lap Timer', ...input, client_id: clientId },
    0,
  );
  const maskedSecret = client_secret ? mask(client_secret, clientId) : undefined;
  noteSecret(client_secret, maskedSecret);
  return { clientId, maskedSecret };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  noteSecret(verifier);
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** An /authorize URL: code flow with an S256 challenge unless the parameters say otherwise. */
export function authorizeUrl(
  server: TestServer,
  params: Record<string, string | undefined>,
  extraQuery = '',
): string {
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...params,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(all)) if (v !== undefined) q.append(k, v);
  return `${server.url}/oauth2/authorize?${q}${extraQuery}`;
}

export const isLoginUrl = (server: TestServer, url: string | undefined) =>
  !!url?.startsWith(`${server.url}/oauth2/login?request_id=`);
export const isConsentUrl = (server: TestServer, url: string | undefined) =>
  !!url?.startsWith(`${server.url}/oauth2/consent?request_id=`);

/** Opens the sign-in page; returns it with the form a person would submit from it. */
export async function openSignIn(b: Browser, loginUrl: string, user: { username: string; password: string }) {
  const page = await b.open(loginUrl);
  assert.equal(page.status, 200, page.text);
  const form = {
    request_id: hidden(page.text, 'request_id'),
    csrf_token: hidden(page.text, 'csrf_token'),
    email: user.username,
    password: user.password,
  };
  noteSecret(form.csrf_token);
  return { page, form };
}

/** Opens the sign-in page and submits it. */
export async function signIn(
  server: TestServer,
  b: Browser,
  loginUrl: string,
  user: { username: string; password: string },
): Promise<Page> {
  const { form } = await openSignIn(b, loginUrl, user);
  return b.open(`${server.url}/oauth2/login`, { form });
}

/** Opens the consent page and answers it; returns the page shown and the answer's result. */
export async function decide(
  server: TestServer,
  b: Browser,
  consentUrl: string,
  decision: 'allow' | 'deny',
): Promise<{ page: Page; result: Page }> {
  const page = await b.open(consentUrl);
  assert.equal(page.status, 200, page.text);
  const form = {
    request_id: hidden(page.text, 'request_id'),
    csrf_token: hidden(page.text, 'csrf_token'),
    decision,
  };
  noteSecret(form.csrf_token);
  return { page, result: await b.open(`${server.url}/oauth2/consent`, { form }) };
}

/** The query of a redirect to the app, checking it goes to exactly that redirect URI. */
export function callbackParams(page: Page, redirectUri: string): URLSearchParams {
  assert.ok([302, 303].includes(page.status), `${page.status} ${page.text}`);
  const sep = redirectUri.includes('?') ? '&' : '?';
  assert.ok(page.rawLocation?.startsWith(`${redirectUri}${sep}`), `Location ${page.rawLocation}`);
  const params = new URL(page.rawLocation!).searchParams;
  const code = params.get('code');
  if (code) noteSecret(code);
  return params;
}

/**
 * Runs /authorize through whatever sign-in and consent it asks for (allowing); returns the redirect to
 * the app and which pages were shown.
 */
export async function authorizeThrough(
  server: TestServer,
  b: Browser,
  user: TestUser,
  url: string,
): Promise<{ final: Page; signedIn: boolean; consented: boolean }> {
  let page = await b.open(url);
  let signedIn = false;
  let consented = false;
  if (isLoginUrl(server, page.location)) {
    page = await signIn(server, b, page.location!, user);
    signedIn = true;
  }
  if (isConsentUrl(server, page.location)) {
    page = (await decide(server, b, page.location!, 'allow')).result;
    consented = true;
  }
  return { final: page, signedIn, consented };
}
