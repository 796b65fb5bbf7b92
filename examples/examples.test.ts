// The examples, run against a real Paddock (the server's own test harness, in-process, on a real port):
// the Data API resource server, the headless client calling it across many access-token lifetimes, the
// native loopback sign-in with a scripted browser, and the single-page app in Chromium.
// The examples import @paddock/client from its dist/: build it first (npm test does).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OAuthClient, type TokenSet } from '@paddock/client';
import type { Browser as Chromium } from 'playwright-core';
import { createUser } from '../packages/server/src/accounts/users.ts';
import { type ClientInput, createClient } from '../packages/server/src/clients/registry.ts';
import { mask } from '../packages/server/src/oauth/masking.ts';
import { chromiumSkip, launchChromium } from '../packages/server/test/chromium.ts';
import {
  decodeJwt,
  noteSecret,
  startInProcess,
  type TestServer,
  tmpDir,
} from '../packages/server/test/helpers.ts';
import { Browser, hidden } from '../packages/server/test/http-browser.ts';
import { start as startDataApi } from './data-api/server.mjs';
import { main as deviceMain } from './device/index.mjs';
import { run as runHeadless } from './headless/index.mjs';
import { main as nativeMain } from './native/index.mjs';
import { start as startSpa } from './spa/serve.mjs';

let server: TestServer;
let dataApi: { url: string; close(): Promise<void> };

before(async () => {
  server = await startInProcess({ name: 'examples' });
  dataApi = await startDataApi({ port: 0, issuer: server.issuer });
});

after(async () => {
  await dataApi?.close();
  await server?.stop();
});

// ---- users and clients, created through the server's registry

let seq = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++seq}`;
const now = () => Math.floor(Date.now() / 1000);

interface User {
  userId: string;
  username: string;
  password: string;
  name: string;
  custId: number;
}

async function newUser(): Promise<User> {
  const n = ++seq;
  const username = `${unique('member')}@example.com`;
  const password = `pw-${unique('examples')}-Staple-Battery`;
  const name = `Jamie Example ${n}`;
  const custId = 800_000 + (process.pid % 1000) * 100 + n;
  const user = await createUser(
    server.ctx!.store,
    {
      username,
      display_name: name,
      password,
      cust_id: custId,
      group_ids: [1, 2, 5],
      env: 'members',
      subscription_active: true,
    },
    now(),
  );
  noteSecret(password, mask(password, username));
  return { userId: user.user_id, username, password, name, custId };
}

async function newClient(input: Partial<ClientInput>): Promise<{ clientId: string; secret?: string }> {
  const clientId = unique('example');
  const { client_secret } = await createClient(
    server.ctx!.store,
    { client_id: clientId, client_name: 'Example client', ...input },
    now(),
  );
  if (client_secret) noteSecret(client_secret, mask(client_secret, clientId));
  return client_secret ? { clientId, secret: client_secret } : { clientId };
}

/** A confidential password_limited client (audience data-server unless told otherwise) and its user. */
async function headless(input: Partial<ClientInput> = {}) {
  const user = await newUser();
  const client = await newClient({
    grant_types: ['password_limited', 'refresh_token'],
    audiences: ['data-server'],
    ...input,
  });
  await server.ctx!.store.allowUser(client.clientId, user.userId, now());
  return { user, clientId: client.clientId, secret: client.secret! };
}

/** A fetch that notes every token /token hands out, for the log audit. */
const notingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (String(input).endsWith('/oauth2/token') && res.ok) {
    const body = await res.clone().json();
    noteSecret(body.access_token, body.refresh_token);
  }
  return res;
};

/** Tokens from the password_limited grant, through the SDK. */
async function passwordTokens(h: Awaited<ReturnType<typeof headless>>, scope?: string): Promise<TokenSet> {
  const client = new OAuthClient({
    issuer: server.issuer,
    clientId: h.clientId,
    clientSecret: h.secret,
    fetch: notingFetch,
  });
  return client.passwordLimited({ username: h.user.username, password: h.user.password, scope });
}

async function memberInfo(authorization?: string) {
  const res = await fetch(`${dataApi.url}/data/member/info`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate'), body: await res.json() };
}

// ---- the Data API

describe('data-api example (createVerifier in a Fastify resource server)', () => {
  test('a valid token with iracing.auth for a data-server client: 200 with the member from the token', async () => {
    const h = await headless();
    const tokens = await passwordTokens(h, 'iracing.auth');
    const r = await memberInfo(`Bearer ${tokens.access_token}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { payload } = decodeJwt(tokens.access_token);
    assert.deepEqual(r.body, {
      cust_id: h.user.custId,
      group_ids: [1, 2, 5],
      env: 'members',
      client_id: h.clientId,
      session_id: payload.session_id,
    });
    assert.equal(typeof r.body.session_id, 'string');
    // The scheme is case-insensitive (RFC 6750).
    assert.equal((await memberInfo(`bearer ${tokens.access_token}`)).status, 200);
  });

  test('no token, a malformed one, a tampered one: 401 invalid_token with the verifier code', async () => {
    const missing = await memberInfo();
    assert.equal(missing.status, 401);
    assert.equal(missing.wwwAuthenticate, 'Bearer error="invalid_token"');
    assert.equal(missing.body.error, 'invalid_token');
    assert.match(missing.body.error_description, /^missing\b/);

    const basic = await memberInfo('Basic dXNlcjpwYXNz');
    assert.equal(basic.status, 401);
    assert.equal(basic.body.error, 'invalid_token');

    const malformed = await memberInfo('Bearer not-a-jwt');
    assert.equal(malformed.status, 401);
    assert.equal(malformed.wwwAuthenticate, 'Bearer error="invalid_token"');
    assert.deepEqual(Object.keys(malformed.body).sort(), ['error', 'error_description']);
    assert.match(malformed.body.error_description, /^malformed: /);

    // A genuine token whose payload was edited to claim another member: the signature no longer fits.
    const h = await headless();
    const tokens = await passwordTokens(h, 'iracing.auth');
    const [header, payload, signature] = tokens.access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.iracing_cust_id = 1;
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    noteSecret(forged);
    const tampered = await memberInfo(`Bearer ${forged}`);
    assert.equal(tampered.status, 401);
    assert.equal(tampered.wwwAuthenticate, 'Bearer error="invalid_token"');
    assert.equal(tampered.body.error, 'invalid_token');
    assert.match(tampered.body.error_description, /^signature_invalid: /);
    assert.ok(!tampered.body.error_description.includes(payload), 'the description does not echo the token');
  });

  test('a token without iracing.auth: 403 insufficient_scope', async () => {
    const h = await headless();
    for (const scope of ['iracing.profile', undefined]) {
      const tokens = await passwordTokens(h, scope);
      const r = await memberInfo(`Bearer ${tokens.access_token}`);
      assert.equal(r.status, 403, `scope ${scope}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'insufficient_scope');
      assert.match(r.body.error_description, /^scope_missing: /);
      assert.equal(r.wwwAuthenticate, 'Bearer error="insufficient_scope", scope="iracing.auth"');
    }
  });

  test('a token for a client without the data-server audience: 401 audience_mismatch', async () => {
    const h = await headless({ audiences: [] });
    const tokens = await passwordTokens(h, 'iracing.auth');
    assert.ok(!decodeJwt(tokens.access_token).payload.aud.includes('data-server'));
    const r = await memberInfo(`Bearer ${tokens.access_token}`);
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_token');
    assert.match(r.body.error_description, /^audience_mismatch: /);
    assert.equal(r.wwwAuthenticate, 'Bearer error="invalid_token"');
  });

  test('a token from another issuer is refused (issuer_mismatch), even with a valid signature', async () => {
    const other = await startDataApi({ port: 0, issuer: `${server.issuer}/elsewhere` });
    try {
      const tokens = await passwordTokens(await headless(), 'iracing.auth');
      const res = await fetch(`${other.url}/data/member/info`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      const body = await res.json();
      assert.equal(res.status, 401);
      assert.match(body.error_description, /^issuer_mismatch: /);
    } finally {
      await other.close();
    }
  });
});

// ---- the headless client

describe('headless example (OAuthClient + TokenManager + FileTokenStore)', () => {
  test('calls the Data API across five access-token lifetimes with no failure; 0600 token file; no token printed', async () => {
    const h = await headless({ access_token_ttl: 2 });
    const tokenFile = path.join(tmpDir('paddock-examples-'), 'state', 'tokens.json');
    const lines: string[] = [];
    const started = Date.now();
    const result = await runHeadless({
      issuer: server.issuer,
      clientId: h.clientId,
      clientSecret: h.secret,
      username: h.user.username,
      password: h.user.password,
      dataApi: dataApi.url,
      calls: 40,
      intervalMs: 300,
      tokenFile,
      // The access token lives 2 s (counted as 1 s by the SDK, which allows for whole seconds), far less
      // than the default 30 s margin: the SDK uses each token for the first half of its life.
      fetch: notingFetch,
      log: (line: string) => lines.push(line),
    });
    const elapsed = Date.now() - started;

    assert.ok(elapsed >= 5 * 2000, `ran across five 2 s lifetimes (${elapsed} ms)`);
    assert.deepEqual(
      { calls: result.calls, ok: result.ok, failed: result.failed },
      { calls: 40, ok: 40, failed: 0 },
      lines.join('\n'),
    );
    assert.ok(result.renewals >= 6, `the access token was renewed along the way (${result.renewals} tokens)`);
    assert.ok(result.renewals < 40, `and reused between renewals (${result.renewals} tokens for 40 calls)`);
    assert.equal(lines.length, 40, 'one line per call');
    for (const line of lines) {
      assert.match(
        line,
        new RegExp(`^call \\d+/40: 200 cust_id=${h.user.custId} env=members client_id=${h.clientId}`),
      );
      assert.doesNotMatch(line, /eyJ/, 'no JWT in the output');
      for (const secret of [h.secret, h.user.password, mask(h.user.password, h.user.username)]) {
        assert.ok(!line.includes(secret), 'no secret in the output');
      }
    }

    const stat = fs.statSync(tokenFile);
    assert.equal(stat.mode & 0o777, 0o600, `token file mode ${(stat.mode & 0o777).toString(8)}`);
    assert.equal(fs.statSync(path.dirname(tokenFile)).mode & 0o777, 0o700, 'its directory is the owner’s');
    const stored = JSON.parse(fs.readFileSync(tokenFile, 'utf8'));
    noteSecret(stored.access_token, stored.refresh_token);
    assert.equal(typeof stored.refresh_token, 'string');
    assert.equal(decodeJwt(stored.access_token).payload.client_id, h.clientId);

    // A restart reuses the stored tokens instead of signing in with the password again: once the stored
    // access token is spent, the stored refresh token renews it.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const grants: string[] = [];
    const second = await runHeadless({
      issuer: server.issuer,
      clientId: h.clientId,
      clientSecret: h.secret,
      username: h.user.username,
      password: h.user.password,
      dataApi: dataApi.url,
      calls: 1,
      tokenFile,
      marginSeconds: 0,
      fetch: (async (input, init) => {
        if (String(input).endsWith('/oauth2/token')) {
          grants.push(new URLSearchParams(String(init?.body)).get('grant_type') ?? '');
        }
        return notingFetch(input, init);
      }) as typeof fetch,
      log: () => {},
    });
    assert.equal(second.ok, 1);
    assert.deepEqual(grants, ['refresh_token']);
  });
});

// ---- the native app

/** Plays the system browser over HTTP: sign-in page, consent page (Allow), then back to the app. */
async function browseAndAllow(authorizeUrl: string, user: User): Promise<void> {
  const browser = new Browser();
  /** Where a response redirects to, checked to start with `prefix`. */
  const redirect = (page: { status: number; location?: string }, prefix: string, what: string): string => {
    const to = page.location;
    if (!to?.startsWith(prefix)) assert.fail(`${what}: ${page.status} ${to}`);
    return to;
  };

  const loginUrl = redirect(await browser.open(authorizeUrl), `${server.url}/oauth2/login?`, 'to sign-in');
  const login = await browser.open(loginUrl);
  assert.equal(login.status, 200, login.text);
  const loginCsrf = hidden(login.text, 'csrf_token');
  noteSecret(loginCsrf);
  const signedIn = await browser.open(formAction(login.text, loginUrl), {
    form: {
      request_id: hidden(login.text, 'request_id'),
      csrf_token: loginCsrf,
      email: user.username,
      password: user.password,
    },
  });

  const consentUrl = redirect(signedIn, `${server.url}/oauth2/consent?`, 'to consent');
  const consent = await browser.open(consentUrl);
  assert.equal(consent.status, 200, consent.text);
  const consentCsrf = hidden(consent.text, 'csrf_token');
  noteSecret(consentCsrf);
  const allowed = await browser.open(formAction(consent.text, consentUrl), {
    form: { request_id: hidden(consent.text, 'request_id'), csrf_token: consentCsrf, decision: 'allow' },
  });
  assert.ok([302, 303].includes(allowed.status), `a redirect to the app: ${allowed.status}`);
  const appUrl = redirect(allowed, 'http://127.0.0.1:', 'back to the app');
  const code = new URL(appUrl).searchParams.get('code');
  if (code) noteSecret(code);
  // Following the redirect: the app's loopback listener answers the browser.
  const back = await fetch(appUrl);
  assert.equal(back.status, 200, await back.text());
}

/** Where the page's form posts, resolved as a browser would. */
function formAction(html: string, pageUrl: string): string {
  const m = /<form method="post" action="([^"]*)">/.exec(html);
  assert.ok(m, 'the page has a form');
  return new URL(m[1]!.replace(/&amp;/g, '&'), pageUrl).href;
}

describe('native example (loopbackLogin)', () => {
  test('signs in through the loopback listener and prints the profile', async () => {
    const user = await newUser();
    const { clientId } = await newClient({
      client_type: 'public',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1:0/callback'],
    });
    const lines: string[] = [];
    const info: string[] = [];
    let opened: URL | undefined;
    let browserError: unknown;
    const profile = await nativeMain({
      issuer: server.issuer,
      clientId,
      timeoutMs: 20_000,
      log: (line: string) => lines.push(line),
      info: (line: string) => info.push(line),
      openBrowser: async (url: string) => {
        opened = new URL(url);
        try {
          await browseAndAllow(url, user);
        } catch (err) {
          browserError = err;
          throw err;
        }
      },
    }).catch((err: unknown) => {
      throw browserError ?? err;
    });

    assert.ok(opened, 'the browser was opened');
    assert.equal(opened.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(opened.searchParams.get('scope'), 'iracing.profile');
    assert.match(opened.searchParams.get('redirect_uri')!, /^http:\/\/127\.0\.0\.1:[1-9]\d*\/callback$/);
    assert.equal(opened.searchParams.has('client_secret'), false);
    assert.deepEqual(profile, { iracing_name: user.name, iracing_cust_id: user.custId });
    assert.equal(lines[0], `Signed in as ${user.name} (customer ID ${user.custId})`);
    assert.deepEqual(JSON.parse(lines[1]!), { iracing_name: user.name, iracing_cust_id: user.custId });
    for (const line of [...lines, ...info]) assert.doesNotMatch(line, /eyJ/);
  });
});

// ---- the device app

describe('device example (deviceLogin)', () => {
  test('shows the user code, the user allows it on another device, and the program prints the profile', async () => {
    const user = await newUser();
    const { clientId } = await newClient({
      client_type: 'public',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    });
    const lines: string[] = [];
    const polls: string[] = [];
    let approving: Promise<void> | undefined;
    const profile = await deviceMain({
      issuer: server.issuer,
      clientId,
      log: (line: string) => lines.push(line),
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const res = await notingFetch(input, init);
        if (String(input).endsWith('/oauth2/token')) {
          polls.push(res.ok ? 'tokens' : (await res.clone().json()).error);
        }
        return res;
      },
      // The person, on their phone: opens the address, types the code, signs in, allows.
      onCode: (code: { userCode: string; verificationUri: string }) => {
        assert.match(code.userCode, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
        assert.equal(code.verificationUri, `${server.issuer}/oauth2/device`);
        approving = enterCodeAndAllow(code.verificationUri, code.userCode, user);
      },
    });
    await approving;
    assert.deepEqual(profile, { iracing_name: user.name, iracing_cust_id: user.custId });
    assert.equal(lines[0], `Signed in as ${user.name} (customer ID ${user.custId})`);
    assert.equal(polls.at(-1), 'tokens');
    for (const line of lines) assert.doesNotMatch(line, /eyJ/);
  });
});

/** Plays the user's phone over HTTP: the device page, sign-in, consent (Allow). */
async function enterCodeAndAllow(deviceUrl: string, userCode: string, user: User): Promise<void> {
  const browser = new Browser();
  const entry = await browser.open(deviceUrl);
  assert.equal(entry.status, 200, entry.text);
  const entered = await browser.open(formAction(entry.text, deviceUrl), {
    form: { csrf_token: hidden(entry.text, 'csrf_token'), user_code: userCode.toLowerCase() },
  });
  assert.equal(entered.status, 303, entered.text);
  const toLogin = await browser.open(new URL(entered.location!, deviceUrl).href);
  const loginUrl = new URL(toLogin.location!, deviceUrl).href;
  const login = await browser.open(loginUrl);
  assert.equal(login.status, 200, login.text);
  const signedIn = await browser.open(formAction(login.text, loginUrl), {
    form: {
      request_id: hidden(login.text, 'request_id'),
      csrf_token: hidden(login.text, 'csrf_token'),
      email: user.username,
      password: user.password,
    },
  });
  const consentUrl = new URL(signedIn.location!, deviceUrl).href;
  const consent = await browser.open(consentUrl);
  assert.equal(consent.status, 200, consent.text);
  const done = await browser.open(formAction(consent.text, consentUrl), {
    form: {
      request_id: hidden(consent.text, 'request_id'),
      csrf_token: hidden(consent.text, 'csrf_token'),
      decision: 'allow',
    },
  });
  assert.equal(done.status, 200, done.text);
  assert.match(done.text, /Return to your device/);
}

// ---- the single-page app

describe('spa example in Chromium', { skip: chromiumSkip }, () => {
  let browser: Chromium;
  let spa: { url: string; redirectUri: string; close(): Promise<void> } | undefined;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await spa?.close();
  });

  test('PKCE in the page, sign-in and consent at Paddock, code exchange and profile by cross-origin fetch', async (t) => {
    const user = await newUser();
    // The client id is chosen first: the SPA's port (so its redirect URI) is known once it listens.
    const clientId = unique('spa');
    spa = await startSpa({ port: 0, issuer: server.issuer, clientId });
    await createClient(
      server.ctx!.store,
      {
        client_id: clientId,
        client_name: 'Lap Timer Web',
        client_type: 'public',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [spa.redirectUri],
        allow_http: true,
      },
      now(),
    );

    const context = await browser.newContext();
    t.after(() => context.close());
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      // The app's pages and Paddock's sign-in and consent pages alike: no console errors anywhere.
      if (m.type() === 'error') {
        problems.push(`console: ${m.text()} (${m.location().url})`);
      }
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
    });
    const navigations: string[] = [];
    page.on('request', (r) => {
      if (r.isNavigationRequest() && r.frame() === page.mainFrame()) navigations.push(r.url());
    });
    page.on('framenavigated', (f) => {
      const code = new URL(f.url()).searchParams.get('code');
      if (code) noteSecret(code);
    });
    const tokenResponse = page.waitForResponse(
      (r) => r.url() === `${server.url}/oauth2/token` && r.request().method() === 'POST',
    );

    await page.goto(`${spa.url}/`);
    tokenResponse.catch(() => {}); // awaited below, once the page got that far
    await page
      .getByText('signed out', { exact: true })
      .waitFor()
      .catch((err) => assert.fail(`the app did not start: ${problems.join('; ') || err.message}`));
    // Every import resolved: the SDK (and jose through it) loaded from /sdk/ and /jose/.
    assert.deepEqual(problems, []);
    await page.getByRole('button', { name: 'Sign in with Paddock' }).click();

    await page.waitForURL((u) => u.origin === server.url && u.pathname === '/oauth2/login');
    const authorize = navigations.map((u) => new URL(u)).find((u) => u.pathname === '/oauth2/authorize');
    assert.ok(authorize, `the app sent the browser to /authorize: ${navigations.join(' ')}`);
    assert.equal(authorize.origin, server.url);
    assert.equal(authorize.searchParams.get('client_id'), clientId);
    assert.equal(authorize.searchParams.get('redirect_uri'), spa.redirectUri);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.match(authorize.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(authorize.searchParams.get('scope'), 'iracing.profile');
    assert.ok(authorize.searchParams.get('state'), 'a state');
    await page.getByLabel('Email').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForFunction(() =>
      ['signed in', 'error'].includes(document.getElementById('status')?.textContent ?? ''),
    );
    const tr = await tokenResponse;
    try {
      const body = await tr.json();
      noteSecret(body.access_token, body.refresh_token);
    } catch {}
    const error = await page.locator('#error').textContent();
    assert.equal(await page.locator('#status').textContent(), 'signed in', `the app reports: ${error}`);
    assert.equal(await page.locator('#profile-name').textContent(), user.name);
    assert.equal(await page.locator('#profile-cust-id').textContent(), String(user.custId));

    // The code went to /token with the verifier, from the SPA's origin (CORS allowed it).
    assert.equal(tr.status(), 200);
    assert.equal((await tr.allHeaders())['access-control-allow-origin'], spa.url);
    const form = new URLSearchParams(tr.request().postData() ?? '');
    assert.equal(form.get('grant_type'), 'authorization_code');
    assert.equal(form.get('redirect_uri'), spa.redirectUri);
    assert.match(form.get('code_verifier') ?? '', /^[A-Za-z0-9\-._~]{128}$/);
    noteSecret(form.get('code_verifier') ?? undefined);
    assert.equal(form.has('client_secret'), false);

    // The code left the address bar, and the verifier left sessionStorage.
    assert.equal(page.url(), `${spa.url}/`);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.deepEqual(problems, []);
  });
});
