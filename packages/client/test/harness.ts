// Test support for the SDK: a real Paddock server (the server's own harness), users and clients created
// through its registry, a fetch that records what the SDK sends, and a tiny cookie-keeping browser that
// goes through the sign-in and consent pages the way a person would.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createUser } from '../../server/src/accounts/users.ts';
import { type ClientInput, createClient } from '../../server/src/clients/registry.ts';
import type { Store } from '../../server/src/store/store.ts';
import { noteSecret, startInProcess, type TestServer } from '../../server/test/helpers.ts';
import { Browser, hidden } from '../../server/test/http-browser.ts';

import { mask } from '../src/mask.ts';

export { noteSecret, startInProcess, type TestServer };

let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

export interface TestUser {
  username: string;
  password: string;
  userId: string;
  custId: number;
  name: string;
}

export async function newUser(store: Store, name = 'John West'): Promise<TestUser> {
  const custId = 700_000 + (process.pid % 1000) * 1000 + ++counter;
  const username = `${unique('driver')}@example.com`;
  const password = `pw-${randomBytes(9).toString('base64url')}-Correct-Horse`;
  const user = await createUser(store, { username, display_name: name, password, cust_id: custId }, 0);
  noteSecret(password, await mask(password, username));
  return { username, password, userId: user.user_id, custId, name };
}

/** Registers a client; returns its id and secret (confidential clients only). */
export async function newClient(
  store: Store,
  input: Partial<ClientInput> = {},
): Promise<{ clientId: string; secret?: string }> {
  const clientId = input.client_id ?? unique('client');
  const { client_secret } = await createClient(
    store,
    { client_name: 'SDK test client', ...input, client_id: clientId },
    Math.floor(Date.now() / 1000),
  );
  if (client_secret) noteSecret(client_secret, await mask(client_secret, clientId));
  return client_secret ? { clientId, secret: client_secret } : { clientId };
}

/** A confidential password_limited client with one allowed user. */
export async function headlessSetup(store: Store, client: Partial<ClientInput> = {}) {
  const user = await newUser(store);
  const c = await newClient(store, { grant_types: ['password_limited', 'refresh_token'], ...client });
  await store.allowUser(c.clientId, user.userId, Math.floor(Date.now() / 1000));
  return { user, clientId: c.clientId, secret: c.secret! };
}

// ---- a fetch that records the SDK's requests and notes the tokens it receives for the log audit

export interface Recorded {
  method: string;
  url: string;
  headers: Headers;
  form: URLSearchParams;
  status: number;
}

export function recordingFetch(): { fetch: typeof fetch; calls: Recorded[] } {
  const calls: Recorded[] = [];
  const f: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = String(input);
    calls.push({
      method: init?.method ?? 'GET',
      url,
      headers: new Headers(init?.headers),
      form: new URLSearchParams(typeof init?.body === 'string' ? init.body : ''),
      status: res.status,
    });
    if (url.endsWith('/oauth2/token') && res.ok) {
      const body = await res.clone().json();
      noteSecret(body.access_token, body.refresh_token);
    }
    return res;
  };
  return { fetch: f, calls };
}

/**
 * Goes through /authorize as a person would: signs in and answers the consent page when they are shown.
 * Returns the address the server finally sends the browser to (the app's redirect URI).
 */
export async function authorizeInBrowser(
  server: TestServer,
  authorizeUrl: string,
  user: TestUser,
  { browser = new Browser(), decision = 'allow' }: { browser?: Browser; decision?: 'allow' | 'deny' } = {},
): Promise<string> {
  let page = await browser.open(authorizeUrl);
  if (page.location?.startsWith(`${server.url}/oauth2/login?`)) {
    const login = await browser.open(page.location);
    assert.equal(login.status, 200, login.text);
    const csrf = hidden(login.text, 'csrf_token');
    noteSecret(csrf);
    page = await browser.open(`${server.url}/oauth2/login`, {
      form: {
        request_id: hidden(login.text, 'request_id'),
        csrf_token: csrf,
        email: user.username,
        password: user.password,
      },
    });
  }
  if (decision === 'deny') {
    assert.ok(page.location?.startsWith(`${server.url}/oauth2/consent?`), 'the consent page is shown');
  }
  if (page.location?.startsWith(`${server.url}/oauth2/consent?`)) {
    const consent = await browser.open(page.location);
    assert.equal(consent.status, 200, consent.text);
    const csrf = hidden(consent.text, 'csrf_token');
    noteSecret(csrf);
    page = await browser.open(`${server.url}/oauth2/consent`, {
      form: { request_id: hidden(consent.text, 'request_id'), csrf_token: csrf, decision },
    });
  }
  assert.ok(
    [302, 303].includes(page.status) && page.location,
    `a redirect to the app: ${page.status} ${page.text}`,
  );
  const code = new URL(page.location).searchParams.get('code');
  if (code) noteSecret(code);
  return page.location;
}
