// Signing out and changing a password end sessions. The pages' "Sign out" (POST /oauth2/logout, a
// CSRF-protected form) ends the browser's session: the stored row is revoked and the cookie cleared.
// `paddock users set-password` ends the user's browser and client sessions (refresh tokens then get
// invalid_grant, access tokens invalid_token); `users set-subscription USER inactive` signs the user out
// of every browser; `--keep-sessions` opts out of both.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, Page as ChromiumPage } from 'playwright-core';
import { mask } from '../src/oauth/masking.ts';
import { chromiumSkip, launchChromium } from './chromium.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { cliOk, get, noteSecret, startInProcess, type TestServer } from './helpers.ts';
import { Browser, type Page } from './http-browser.ts';
import { authorizeUrl, formOf, pageClient, pageUser, signInThrough } from './page-flow.ts';

const SIGN_OUT_FORM =
  /<form id="sign-out" method="post" action="([^"]+)">\s*<input type="hidden" name="csrf_token" value="([^"]*)">/;

/** The consent page's sign-out form: where it posts and its CSRF token. */
function signOutForm(page: Page): { action: string; csrf_token: string } {
  const m = SIGN_OUT_FORM.exec(page.text);
  assert.ok(m, 'the page has a sign-out form');
  noteSecret(m[2]);
  return { action: m[1]!, csrf_token: m[2]! };
}

/** Whether the browser is still signed in: a new authorization goes to consent, not to sign-in. */
async function signedIn(server: TestServer, b: Browser, clientId: string): Promise<boolean> {
  const r = await b.open(authorizeUrl(server, clientId));
  assert.equal(r.status, 302, r.text);
  const path = new URL(r.location!).pathname;
  assert.ok(['/oauth2/login', '/oauth2/consent'].includes(path), r.location);
  return path === '/oauth2/consent';
}

/** A browser signed in as this user, on the consent page of clientId. */
async function browserOn(
  server: TestServer,
  user: Pick<Headless, 'userId' | 'username' | 'password'>,
  clientId: string,
) {
  const b = new Browser();
  const result = await signInThrough(server, b, user, clientId);
  const consent = await b.open(result.location!);
  assert.equal(consent.status, 200, consent.text);
  return { b, consent };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe("POST /oauth2/logout: the pages' Sign out", () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({ name: 'sign-out' });
  });
  after(() => server.stop());

  test('the consent page offers Sign out; it revokes the session, clears the cookie and says so', async () => {
    const user = await pageUser(server.ctx!.store);
    const clientId = await pageClient(server.ctx!.store);
    const { b, consent } = await browserOn(server, user, clientId);
    assert.match(consent.text, /Signed in as/);
    assert.match(consent.text, /<button [^>]*form="sign-out"[^>]*>Sign out<\/button>/);
    const form = signOutForm(consent);
    assert.equal(form.action, '/oauth2/logout');
    const copied = b.cookies.get('paddock_session')!;
    assert.ok(copied);

    const out = await b.open(`${server.url}${form.action}`, { form: { csrf_token: form.csrf_token } });
    assert.equal(out.status, 200, out.text);
    assert.match(out.text, /You are signed out/);
    assert.equal(out.headers.get('cache-control'), 'no-store');
    assert.match(out.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const cleared = out.setCookies.find((c) => c.startsWith('paddock_session='));
    assert.ok(cleared, out.setCookies.join('\n'));
    assert.match(cleared, /^paddock_session=;/);
    assert.match(cleared, /Max-Age=0/i);
    assert.match(cleared, /Path=\/oauth2\//i);
    assert.ok(!b.cookies.has('paddock_session'));

    assert.equal(await signedIn(server, b, clientId), false, 'the next authorization asks for the password');
    // The stored session is revoked, so a copy of the old cookie signs nobody in either.
    const copy = new Browser();
    copy.cookies.set('paddock_session', copied);
    assert.equal(await signedIn(server, copy, clientId), false, 'a copy of the old cookie');
  });

  test('CSRF: a wrong, missing or foreign token, or a foreign or null Origin, is 403 and signs nobody out', async () => {
    const user = await pageUser(server.ctx!.store);
    const clientId = await pageClient(server.ctx!.store);
    const { b, consent } = await browserOn(server, user, clientId);
    const form = signOutForm(consent);
    const url = `${server.url}${form.action}`;
    // Another browser of the same user has its own token.
    const other = await browserOn(server, user, clientId);
    const attempts: [string, () => Promise<Page>][] = [
      ['wrong token', () => b.open(url, { form: { csrf_token: 'x'.repeat(43) } })],
      ['no token', () => b.open(url, { form: {} })],
      [
        "another browser's token",
        () => b.open(url, { form: { csrf_token: signOutForm(other.consent).csrf_token } }),
      ],
      [
        "the consent form's token",
        () => b.open(url, { form: { csrf_token: formOf(consent, ['csrf_token']).csrf_token! } }),
      ],
      [
        'foreign Origin',
        () => b.open(url, { form: { csrf_token: form.csrf_token }, origin: 'https://evil.example' }),
      ],
      ['Origin: null', () => b.open(url, { form: { csrf_token: form.csrf_token }, origin: 'null' })],
    ];
    for (const [what, attempt] of attempts) {
      const r = await attempt();
      assert.equal(r.status, 403, `${what}: ${r.text}`);
      assert.match(r.text, /invalid_request/, what);
      assert.equal(r.setCookies.length, 0, what);
      assert.equal(await signedIn(server, b, clientId), true, `${what}: still signed in`);
    }
    // The real form still works, and signs out this browser only.
    const out = await b.open(url, { form: { csrf_token: form.csrf_token } });
    assert.equal(out.status, 200, out.text);
    assert.equal(await signedIn(server, b, clientId), false);
    assert.equal(await signedIn(server, other.b, clientId), true, 'the other browser stays signed in');
  });

  test('a browser that is not signed in gets the same page, and nothing changes', async () => {
    const r = await new Browser().open(`${server.url}/oauth2/logout`, { form: { csrf_token: 'whatever' } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /You are signed out/);
  });
});

describe('paddock users set-password and set-subscription end sessions', () => {
  let server: TestServer;
  let clientId: string;
  const cli = (args: string[], input?: string) => cliOk([...args, '--data-dir', server.dataDir], { input });
  before(async () => {
    server = await startInProcess({
      name: 'set-password-sessions',
      env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '1000', PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000' },
    });
    clientId = await pageClient(server.ctx!.store);
  });
  after(() => server.stop());

  /** A user with a client session (password_limited, with a refresh token) and a signed-in browser. */
  async function signedInEverywhere() {
    const h = await headless(server.ctx!.store);
    const tokens = await login(server, h, { scope: 'iracing.profile' });
    assert.equal(tokens.status, 200, tokens.text);
    const { b } = await browserOn(server, h, clientId);
    return { h, b, access: tokens.body.access_token as string, refresh: tokens.body.refresh_token as string };
  }

  function withPassword(h: Headless, password: string): Headless {
    noteSecret(password, mask(password, h.username));
    return { ...h, password, maskedPassword: mask(password, h.username) };
  }

  test('set-password: refresh tokens get invalid_grant, access tokens are refused, browsers are signed out', async () => {
    const a = await signedInEverywhere();
    const bystander = await signedInEverywhere();
    const newPassword = `n3w-${a.h.password}`;
    await cli(['users', 'set-password', a.h.username, '--password-stdin'], `${newPassword}\n`);

    const refused = await refresh(server, a.h, a.refresh);
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.body.error, 'invalid_grant');
    for (const path of ['/oauth2/iracing/profile', '/oauth2/sessions']) {
      const r = await get(`${server.url}${path}`, bearer(a.access));
      assert.equal(r.status, 401, `${path}: ${r.text}`);
      assert.equal(r.body.error, 'invalid_token', path);
    }
    assert.equal(await signedIn(server, a.b, clientId), false, 'the browser is signed out');

    // The new password works; the old one does not.
    assert.equal((await login(server, a.h)).status, 401);
    assert.equal((await login(server, withPassword(a.h, newPassword))).status, 200);

    // Nobody else was touched.
    assert.equal((await get(`${server.url}/oauth2/iracing/profile`, bearer(bystander.access))).status, 200);
    assert.equal((await refresh(server, bystander.h, bystander.refresh)).status, 200);
    assert.equal(await signedIn(server, bystander.b, clientId), true);
  });

  test('set-password --keep-sessions changes the password only', async () => {
    const a = await signedInEverywhere();
    const newPassword = `n3w-${a.h.password}`;
    await cli(['users', 'set-password', a.h.username, '--password-stdin', '--keep-sessions'], newPassword);
    assert.equal((await get(`${server.url}/oauth2/iracing/profile`, bearer(a.access))).status, 200);
    assert.equal((await refresh(server, a.h, a.refresh)).status, 200);
    assert.equal(await signedIn(server, a.b, clientId), true);
    assert.equal((await login(server, a.h)).status, 401, 'the old password');
    assert.equal((await login(server, withPassword(a.h, newPassword))).status, 200, 'the new password');
  });

  test('set-subscription inactive signs the user out of every browser; client sessions resume with the subscription', async () => {
    const a = await signedInEverywhere();
    await cli(['users', 'set-subscription', a.h.username, 'inactive']);
    assert.equal(await signedIn(server, a.b, clientId), false, 'the browser is signed out');
    const lapsed = await refresh(server, a.h, a.refresh);
    assert.equal(lapsed.status, 400, lapsed.text);
    assert.equal(lapsed.body.error, 'invalid_grant');
    await cli(['users', 'set-subscription', a.h.username, 'active']);
    // The refused refresh consumed nothing and the session was not revoked.
    assert.equal((await refresh(server, a.h, a.refresh)).status, 200);
  });

  test('set-subscription inactive --keep-sessions leaves browsers signed in', async () => {
    const a = await signedInEverywhere();
    await cli(['users', 'set-subscription', a.h.username, 'inactive', '--keep-sessions']);
    assert.equal(await signedIn(server, a.b, clientId), true);
  });
});

describe('browser: Sign out in Chromium', { skip: chromiumSkip }, () => {
  let server: TestServer;
  let chromium: Chromium;
  before(async () => {
    server = await startInProcess({ name: 'sign-out-browser' });
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  const pathOf = (page: ChromiumPage) => new URL(page.url()).pathname;

  test("the consent page's Sign out button signs the browser out; the next authorization asks for the password", async () => {
    const user = await pageUser(server.ctx!.store);
    const clientId = await pageClient(server.ctx!.store);
    const context = await chromium.newContext();
    context.setDefaultTimeout(15_000);
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      await page.goto(authorizeUrl(server, clientId));
      assert.equal(pathOf(page), '/oauth2/login');
      await page.getByLabel('Email').fill(user.username);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).waitFor();
      assert.ok((await context.cookies()).some((c) => c.name === 'paddock_session'));

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
      assert.equal(pathOf(page), '/oauth2/logout');
      assert.ok(!(await context.cookies()).some((c) => c.name === 'paddock_session'), 'the cookie is gone');

      await page.goto(authorizeUrl(server, clientId));
      assert.equal(pathOf(page), '/oauth2/login', 'signed out: the password is asked again');
      assert.deepEqual(problems, [], 'no console errors or CSP warnings');
    } finally {
      await context.close();
    }
  });
});
