// The sign-in and consent pages over HTTP, for tests that need a signed-in browser on the consent page.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createUser } from '../src/accounts/users.ts';
import { createClient } from '../src/clients/registry.ts';
import { mask } from '../src/oauth/masking.ts';
import type { Store } from '../src/store/store.ts';
import { noteSecret, type TestServer } from './helpers.ts';
import { type Browser, hidden, type Page } from './http-browser.ts';

export const APP_CB = 'https://app.example/cb';

let seq = 0;
const unique = (p: string) => `${p}-${process.pid}-${++seq}`;
const nowS = () => Math.floor(Date.now() / 1000);

export interface PageUser {
  userId: string;
  username: string;
  password: string;
}

export async function pageUser(store: Store): Promise<PageUser> {
  const username = `${unique('driver')}@example.com`;
  const password = `pw-${randomBytes(9).toString('base64url')}-Pit-Wall`;
  const user = await createUser(store, { username, display_name: 'Sam Marshal', password }, nowS());
  noteSecret(password, mask(password, username));
  return { userId: user.user_id, username, password };
}

/** A public client with an https redirect URI. */
export async function pageClient(store: Store): Promise<string> {
  const clientId = unique('pages');
  await createClient(
    store,
    { client_id: clientId, client_name: 'Grid Planner', client_type: 'public', redirect_uris: [APP_CB] },
    nowS(),
  );
  return clientId;
}

export function authorizeUrl(server: TestServer, clientId: string, extra: Record<string, string> = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: APP_CB,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    scope: 'iracing.profile',
    ...extra,
  });
  return `${server.url}/oauth2/authorize?${q}`;
}

/** The hidden fields of a page's form, as the browser would post them. */
export function formOf(page: Page, fields: string[]): Record<string, string> {
  const form: Record<string, string> = {};
  for (const f of fields) form[f] = hidden(page.text, f);
  if (form.csrf_token) noteSecret(form.csrf_token);
  return form;
}

/**
 * Starts an authorization and signs in: returns the sign-in page's result (a redirect to the consent
 * page). `origin` is what the browser sends with its form posts (the issuer's origin by default).
 */
export async function signInThrough(
  server: TestServer,
  b: Browser,
  user: PageUser,
  clientId: string,
  origin?: string,
): Promise<Page> {
  const start = await b.open(authorizeUrl(server, clientId));
  assert.equal(start.status, 302, start.text);
  const login = await b.open(start.location!);
  assert.equal(login.status, 200, login.text);
  const form = {
    ...formOf(login, ['request_id', 'csrf_token']),
    email: user.username,
    password: user.password,
  };
  const result = await b.open(`${server.url}/oauth2/login`, { form, origin });
  assert.equal(result.status, 303, result.text);
  return result;
}
