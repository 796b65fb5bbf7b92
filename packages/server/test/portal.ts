// The developer portal over HTTP as a browser without JavaScript uses it: signed in through the account
// page's sign-in, forms posted with the CSRF token of the page they are on, the page's error alert read back.
import assert from 'node:assert/strict';
import type { Store } from '../src/store/store.ts';
import { newUser, type TestUser } from './flow.ts';
import { noteSecret, type TestServer } from './helpers.ts';
import { Browser, hidden, type Page } from './http-browser.ts';

export const PORTAL = '/oauth2/developer';
let seq = 0;
export const uniqueId = (p: string) => `${p}-${process.pid}-${++seq}`;

/** Signs a browser in through the account page's sign-in, which the portal sends it to and returns from. */
export async function portalBrowser(server: TestServer, user: TestUser): Promise<Browser> {
  const b = new Browser();
  const first = await b.open(`${server.url}${PORTAL}`);
  assert.equal(first.status, 303, first.text);
  assert.equal(first.location, `${server.url}/oauth2/account/login?return=developer`);
  const login = await b.open(first.location!);
  assert.equal(login.status, 200, login.text);
  const form = {
    request_id: hidden(login.text, 'request_id'),
    csrf_token: hidden(login.text, 'csrf_token'),
    email: user.username,
    password: user.password,
  };
  const done = await b.open(first.location!, { form });
  assert.equal(done.status, 303, done.text);
  assert.equal(done.location, `${server.url}${PORTAL}`);
  return b;
}

export async function developer(server: TestServer, store: Store, name = 'Dev Eloper') {
  const user = await newUser(store, name);
  await store.developer.setDeveloper(user.userId, true, 0);
  return { user, b: await portalBrowser(server, user) };
}

/** Posts a portal form with the CSRF token of the page it is on. */
export async function submit(
  b: Browser,
  server: TestServer,
  pagePath: string,
  action: string,
  fields: object,
) {
  const page = await b.open(`${server.url}${pagePath}`);
  assert.equal(page.status, 200, page.text);
  const csrf_token = hidden(page.text, 'csrf_token');
  noteSecret(csrf_token);
  return b.open(`${server.url}${action}`, { form: { csrf_token, ...(fields as Record<string, string>) } });
}

export function register(b: Browser, server: TestServer, fields: Record<string, string>) {
  return submit(b, server, `${PORTAL}/new`, `${PORTAL}/new`, fields);
}

export const decode = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&#x3D;/g, '=')
    .replace(/&#x60;/g, '`')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The text of the page's error alert. */
export function alertOf(page: Page): string {
  const m = /<div class="alert error" role="alert"><svg[\s\S]*?<\/svg><div>([\s\S]*?)<\/div><\/div>/.exec(
    page.text,
  );
  assert.ok(m, `an error alert on the page: ${page.status} ${page.text.slice(0, 300)}`);
  return decode(m[1]!);
}
