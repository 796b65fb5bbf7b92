// Test support for the SDK: a real Paddock server (the server's own harness), users and clients created
// through its registry, a fetch that records what the SDK sends, and a tiny cookie-keeping browser that
// goes through the sign-in and consent pages the way a person would.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createUser } from '../../server/src/accounts/users.ts';
import { type ClientInput, createClient } from '../../server/src/clients/registry.ts';
import type { Store } from '../../server/src/store/store.ts';
import { noteSecret, startInProcess, type TestServer } from '../../server/test/helpers.ts';
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

// ---- a browser

interface Page {
  status: number;
  text: string;
  location: string | undefined;
}

export class Browser {
  readonly cookies = new Map<string, string>();

  async open(url: string, form?: Record<string, string>): Promise<Page> {
    const headers: Record<string, string> = {
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) PaddockSdkTestBrowser/1.0',
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
    };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = new URL(url).origin;
      body = new URLSearchParams(form).toString();
    }
    const r = await fetch(url, { method: form ? 'POST' : 'GET', headers, body, redirect: 'manual' });
    for (const c of r.headers.getSetCookie()) this.#keep(c);
    const location = r.headers.get('location');
    return {
      status: r.status,
      text: await r.text(),
      location: location === null ? undefined : new URL(location, url).href,
    };
  }

  #keep(header: string): void {
    const [pair = '', ...attrs] = header.split(';');
    const i = pair.indexOf('=');
    const name = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim();
    const maxAge = attrs.map((a) => a.trim()).find((a) => /^max-age=/i.test(a));
    if (value === '' || (maxAge && Number(maxAge.split('=')[1]) <= 0)) this.cookies.delete(name);
    else {
      noteSecret(value);
      this.cookies.set(name, value);
    }
  }
}

function hidden(html: string, name: string): string {
  const m = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html);
  assert.ok(m, `the page has a hidden ${name} input`);
  return m[1]!.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
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
      request_id: hidden(login.text, 'request_id'),
      csrf_token: csrf,
      email: user.username,
      password: user.password,
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
      request_id: hidden(consent.text, 'request_id'),
      csrf_token: csrf,
      decision,
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
