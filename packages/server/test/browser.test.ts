// The Authorization Code flow in a real browser: Debian's Chromium driven by playwright-core against an
// in-process Paddock, with small local "client apps" (a server-side app, a single-page app on another
// origin, a native app's loopback listener) on ephemeral ports. Covers the book's Identity Verification
// and Data API workflows, the remembered browser session, Deny, CORS for public clients, Native
// Application Support, and screenshots of the pages (test-output/screenshots, git-ignored).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { createUser } from '../src/accounts/users.ts';
import { type ClientInput, createClient } from '../src/clients/registry.ts';
import { mask } from '../src/oauth/masking.ts';
import { launchChromium, SCREENSHOT_DEVICES, chromiumSkip as skip } from './chromium.ts';
import {
  decodeJwt,
  get,
  type HttpResult,
  noteSecret,
  OUTPUT,
  post,
  startInProcess,
  type TestServer,
} from './helpers.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/browser/', import.meta.url));
const SCREENSHOTS = path.join(OUTPUT, 'screenshots');
const TIMEOUT = 15_000;

let browser: Browser;
let server: TestServer;
const localServers: http.Server[] = [];

// ---- local servers standing in for the apps

/** Stops a server, cutting the browser's keep-alive connections so close() does not wait on them. */
function closeServer(srv: http.Server): Promise<void> {
  if (!srv.listening) return Promise.resolve();
  return new Promise((resolve) => {
    srv.close(() => resolve());
    srv.closeAllConnections();
  });
}

/** An HTTP server on 127.0.0.1, on an ephemeral port. */
async function listen(handler: http.RequestListener): Promise<{ srv: http.Server; port: number }> {
  const srv = http.createServer(handler);
  localServers.push(srv);
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  return { srv, port: (srv.address() as AddressInfo).port };
}

function html(res: http.ServerResponse, body: string, status = 200): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

/** A promise for the next value, failing with `what` after the timeout. */
function within<T>(p: Promise<T>, what: string, ms = TIMEOUT): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

interface ClientApp {
  origin: string;
  redirectUri: string;
  /** The next request its /callback receives (already received ones first). */
  nextCallback(): Promise<URL>;
}

/** A server-side client app: its /callback records the query the browser brings back. */
async function startClientApp(): Promise<ClientApp> {
  const received: URL[] = [];
  const waiting: ((u: URL) => void)[] = [];
  const { port } = await listen((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1`);
    if (req.method === 'GET' && url.pathname === '/callback') {
      const code = url.searchParams.get('code');
      if (code) noteSecret(code);
      const waiter = waiting.shift();
      if (waiter) waiter(url);
      else received.push(url);
      html(res, '<!doctype html><title>Client app</title><h1>Back in the client app</h1>');
      return;
    }
    html(res, 'not found', 404);
  });
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    redirectUri: `${origin}/callback`,
    nextCallback() {
      const ready = received.shift();
      if (ready) return Promise.resolve(ready);
      return within(new Promise<URL>((resolve) => waiting.push(resolve)), `the client app's /callback`);
    },
  };
}

// ---- users, clients, PKCE, tokens

let seq = 0;
const nowSeconds = () => Math.floor(Date.now() / 1000);

interface TestUser {
  userId: string;
  username: string;
  password: string;
  displayName: string;
  custId: number;
}

async function newUser(): Promise<TestUser> {
  const n = ++seq;
  const username = `driver-${process.pid}-${n}@example.com`;
  const password = `pw-${randomBytes(12).toString('base64url')}-Lap${n}`;
  const displayName = `Jamie Racer ${n}`;
  const custId = 700_000 + n;
  const user = await createUser(
    server.ctx!.store,
    {
      username,
      display_name: displayName,
      password,
      cust_id: custId,
      group_ids: [1, 2],
      env: 'members',
      subscription_active: true,
    },
    nowSeconds(),
  );
  noteSecret(password, mask(password, username));
  return { userId: user.user_id, username, password, displayName, custId };
}

interface TestClient {
  clientId: string;
  clientName: string;
  developerName: string;
  /** The masked secret of a confidential client, as it is sent to /token. */
  maskedSecret?: string;
}

async function newClient(input: Partial<ClientInput> & { redirect_uris: string[] }): Promise<TestClient> {
  const clientId = `browser-${process.pid}-${++seq}`;
  const clientName = input.client_name ?? 'Lap Timer Pro';
  const developerName = input.developer_name ?? 'Pit Lane Software';
  const { client_secret } = await createClient(
    server.ctx!.store,
    {
      client_id: clientId,
      client_name: clientName,
      developer_name: developerName,
      developer_url: 'https://pitlane.example.com/',
      allow_http: true,
      ...input,
    },
    nowSeconds(),
  );
  const maskedSecret = client_secret ? mask(client_secret, clientId) : undefined;
  noteSecret(client_secret, maskedSecret);
  return { clientId, clientName, developerName, maskedSecret };
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  noteSecret(verifier);
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(client: TestClient, redirectUri: string, p: Record<string, string>): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: redirectUri,
    code_challenge_method: 'S256',
    ...p,
  });
  return `${server.url}/oauth2/authorize?${q}`;
}

async function token(form: Record<string, string | undefined>): Promise<HttpResult> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(form)) if (v !== undefined) clean[k] = v;
  const r = await post(`${server.url}/oauth2/token`, clean);
  if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
  return r;
}

function exchangeCode(client: TestClient, code: string, redirectUri: string, verifier: string) {
  return token({
    grant_type: 'authorization_code',
    client_id: client.clientId,
    client_secret: client.maskedSecret,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
}

// ---- the browser

async function newContext(t: { after(fn: () => Promise<void>): void }, opts: BrowserContextOptions = {}) {
  const context = await browser.newContext(opts);
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  t.after(() => context.close());
  return context;
}

function pathOf(page: Page): string {
  return new URL(page.url()).pathname;
}

/** Fills and submits Paddock's sign-in page, found by its labels and button. */
async function fillSignIn(page: Page, user: TestUser): Promise<void> {
  assert.equal(pathOf(page), '/oauth2/login', `expected the sign-in page, at ${page.url()}`);
  await page.getByLabel('Email').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in and waits for the consent page. */
async function signInWith(page: Page, user: TestUser): Promise<void> {
  await fillSignIn(page, user);
  await page.getByRole('button', { name: 'Allow' }).waitFor();
  assert.equal(pathOf(page), '/oauth2/consent', `expected the consent page, at ${page.url()}`);
}

/** Records the URLs of the top-level navigations of a page (requests, redirects included). */
function recordNavigations(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (r) => {
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) urls.push(r.url());
  });
  return urls;
}

describe('browser: the Authorization Code flow in Chromium', { skip }, () => {
  before(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startInProcess({ name: 'browser' });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await Promise.all(localServers.map(closeServer));
    await server?.stop();
  });

  test('Identity Verification workflow: sign in, consent, code at the app, /token, /iracing/profile', async (t) => {
    const app = await startClientApp();
    const user = await newUser();
    // The workflow needs no refresh token: the client is registered for authorization_code alone.
    const client = await newClient({
      redirect_uris: [app.redirectUri],
      grant_types: ['authorization_code'],
      client_name: 'Stewards Office',
      developer_name: 'Racing Club Tools',
    });
    const { verifier, challenge } = pkce();
    // A state with characters that must be encoded: it has to come back unmodified.
    const state = `st ${randomBytes(8).toString('hex')}/+=&?#é`;
    const page = await (await newContext(t)).newPage();

    await page.goto(
      authorizeUrl(client, app.redirectUri, { scope: 'iracing.profile', state, code_challenge: challenge }),
    );
    assert.equal(pathOf(page), '/oauth2/login');
    const loginText = await page.locator('main').innerText();
    assert.match(loginText, /Sign in/);
    assert.ok(loginText.includes('Stewards Office'), `the sign-in page names the client: ${loginText}`);

    await signInWith(page, user);
    const h1 = await page.getByRole('heading', { level: 1 }).innerText();
    assert.equal(h1, 'Stewards Office wants to access your account');
    const consentText = await page.locator('main').innerText();
    assert.ok(consentText.includes('by Racing Club Tools'), `developer name: ${consentText}`);
    assert.ok(consentText.includes('Access to the iRacing profile.'), `scope description: ${consentText}`);
    assert.ok(consentText.includes('iracing.profile'));
    assert.ok(consentText.includes(user.displayName), `the signed-in user is shown: ${consentText}`);

    const callback = app.nextCallback();
    await page.getByRole('button', { name: 'Allow' }).click();
    const cb = await callback;
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
    await page.getByRole('heading', { name: 'Back in the client app' }).waitFor();
    assert.equal(cb.searchParams.get('state'), state, 'state comes back unmodified');
    const code = cb.searchParams.get('code');
    assert.ok(code, `a code at the callback: ${cb.search}`);
    assert.equal(cb.searchParams.get('error'), null);

    // The app's backend: code -> tokens (masked secret, PKCE), then the profile; the token is then discarded.
    const r = await exchangeCode(client, code, app.redirectUri, verifier);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.token_type, 'Bearer');
    assert.equal(r.body.scope, 'iracing.profile');
    assert.equal(r.body.refresh_token, undefined, 'no refresh token for a client without that grant');
    const profile = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${r.body.access_token}`,
    });
    assert.equal(profile.status, 200, profile.text);
    assert.deepEqual(profile.body, { iracing_name: user.displayName, iracing_cust_id: user.custId });

    // The code was single use.
    const again = await exchangeCode(client, code, app.redirectUri, verifier);
    assert.equal(again.status, 400, again.text);
    assert.equal(again.body.error, 'invalid_grant');
  });

  test('Data API workflow: iracing.auth, aud has client_id, oauth-api and data-server; refresh rotates', async (t) => {
    const app = await startClientApp();
    const user = await newUser();
    const client = await newClient({
      redirect_uris: [app.redirectUri],
      audiences: ['data-server'],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const { verifier, challenge } = pkce();
    const state = randomBytes(16).toString('base64url');
    const page = await (await newContext(t)).newPage();

    await page.goto(
      authorizeUrl(client, app.redirectUri, { scope: 'iracing.auth', state, code_challenge: challenge }),
    );
    await signInWith(page, user);
    assert.ok(
      (await page.locator('main').innerText()).includes('Authorization for iRacing services.'),
      'the consent page describes iracing.auth',
    );
    const callback = app.nextCallback();
    await page.getByRole('button', { name: 'Allow' }).click();
    const cb = await callback;
    assert.equal(cb.searchParams.get('state'), state);

    const r = await exchangeCode(client, cb.searchParams.get('code')!, app.redirectUri, verifier);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.scope, 'iracing.auth');
    assert.ok(r.body.refresh_token, 'a refresh token');
    const { payload } = decodeJwt(r.body.access_token);
    assert.equal(payload.sub, user.userId);
    assert.equal(payload.iss, server.issuer);
    for (const aud of [client.clientId, 'oauth-api', 'data-server']) {
      assert.ok(payload.aud.includes(aud), `aud ${JSON.stringify(payload.aud)} includes ${aud}`);
    }
    // iracing.auth does not grant the profile.
    const profile = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${r.body.access_token}`,
    });
    assert.equal(profile.status, 403, profile.text);

    const refreshForm = (refresh_token: string) => ({
      grant_type: 'refresh_token',
      client_id: client.clientId,
      client_secret: client.maskedSecret,
      refresh_token,
    });
    const refreshed = await token(refreshForm(r.body.refresh_token));
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.notEqual(refreshed.body.access_token, r.body.access_token);
    assert.notEqual(refreshed.body.refresh_token, r.body.refresh_token);
    const second = decodeJwt(refreshed.body.access_token).payload;
    assert.deepEqual(
      [...second.aud].sort(),
      [...payload.aud].sort(),
      'the refreshed token has the same audiences',
    );
    assert.equal(second.sub, user.userId);

    const reused = await token(refreshForm(r.body.refresh_token));
    assert.equal(reused.status, 400, reused.text);
    assert.equal(reused.body.error, 'invalid_grant');
  });

  test('a second authorization in the same browser needs no password and no consent', async (t) => {
    const app = await startClientApp();
    const user = await newUser();
    const client = await newClient({ redirect_uris: [app.redirectUri] });
    const context = await newContext(t);
    const page = await context.newPage();

    const first = pkce();
    await page.goto(
      authorizeUrl(client, app.redirectUri, {
        scope: 'iracing.profile',
        state: 'one',
        code_challenge: first.challenge,
      }),
    );
    await signInWith(page, user);
    const callback1 = app.nextCallback();
    await page.getByRole('button', { name: 'Allow' }).click();
    const cb1 = await callback1;
    assert.equal(cb1.searchParams.get('state'), 'one');

    // Again, in the same context: straight to the callback.
    const second = pkce();
    const navigations = recordNavigations(page);
    const callback2 = app.nextCallback();
    await page.goto(
      authorizeUrl(client, app.redirectUri, {
        scope: 'iracing.profile',
        state: 'two',
        code_challenge: second.challenge,
      }),
    );
    const cb2 = await callback2;
    assert.equal(new URL(page.url()).origin, app.origin, `landed at the app: ${page.url()}`);
    assert.equal(pathOf(page), '/callback');
    const visited = navigations.map((u) => new URL(u).pathname);
    assert.deepEqual(visited, ['/oauth2/authorize', '/callback'], `no sign-in or consent page: ${visited}`);
    assert.equal(cb2.searchParams.get('state'), 'two');
    const code2 = cb2.searchParams.get('code')!;
    assert.ok(code2);
    assert.notEqual(code2, cb1.searchParams.get('code'));
    const r = await exchangeCode(client, code2, app.redirectUri, second.verifier);
    assert.equal(r.status, 200, r.text);
    assert.equal(decodeJwt(r.body.access_token).payload.sub, user.userId);

    // prompt=verify: the remembered session is not enough, the same browser is asked for the password.
    await page.goto(
      authorizeUrl(client, app.redirectUri, {
        scope: 'iracing.profile',
        state: 'verify',
        prompt: 'verify',
        code_challenge: pkce().challenge,
      }),
    );
    assert.equal(pathOf(page), '/oauth2/login', 'prompt=verify asks for the password again');

    // The control: another browser context (no session cookie) is asked to sign in; the consent is the
    // user's, not the browser's, so after the password it goes straight to the app (the sign-in form's
    // redirect to the app must pass the page's CSP form-action).
    const stranger = await (await newContext(t)).newPage();
    const callback3 = app.nextCallback();
    await stranger.goto(
      authorizeUrl(client, app.redirectUri, {
        scope: 'iracing.profile',
        state: 'three',
        code_challenge: pkce().challenge,
      }),
    );
    assert.equal(pathOf(stranger), '/oauth2/login');
    await fillSignIn(stranger, user);
    const cb3 = await callback3;
    await stranger.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
    assert.equal(cb3.searchParams.get('state'), 'three');
    assert.ok(cb3.searchParams.get('code'));
  });

  test('Deny sends the browser back with error=access_denied and the state', async (t) => {
    const app = await startClientApp();
    const user = await newUser();
    const client = await newClient({ redirect_uris: [app.redirectUri] });
    const page = await (await newContext(t)).newPage();
    const state = randomBytes(12).toString('base64url');

    await page.goto(
      authorizeUrl(client, app.redirectUri, {
        scope: 'iracing.profile',
        state,
        code_challenge: pkce().challenge,
      }),
    );
    await signInWith(page, user);
    const callback = app.nextCallback();
    await page.getByRole('button', { name: 'Deny' }).click();
    const cb = await callback;
    await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback');
    assert.equal(cb.searchParams.get('error'), 'access_denied', cb.search);
    assert.equal(cb.searchParams.get('state'), state);
    assert.equal(cb.searchParams.get('code'), null, 'no code after Deny');

    // Nothing was remembered: the next request asks for consent again (the user is still signed in).
    await page.goto(
      authorizeUrl(client, app.redirectUri, {
        scope: 'iracing.profile',
        state: 'x',
        code_challenge: pkce().challenge,
      }),
    );
    assert.equal(pathOf(page), '/oauth2/consent');
    await page.getByRole('button', { name: 'Allow' }).waitFor();
  });

  // ---- a single-page app on another origin (a public client, CORS)

  interface Spa {
    origin: string;
    port: number;
    redirectUri: string;
    client: TestClient;
  }
  let spa: Promise<Spa> | undefined;

  /** The SPA's static server (its page, its config) and its public client; shared by the CORS tests. */
  function spaApp(): Promise<Spa> {
    spa ??= (async () => {
      const page = fs.readFileSync(path.join(FIXTURES, 'spa.html'), 'utf8');
      const probe = fs.readFileSync(path.join(FIXTURES, 'probe.html'), 'utf8');
      let config = '{}';
      const { port } = await listen((req, res) => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        if (url.pathname === '/spa.html') return html(res, page);
        if (url.pathname === '/probe.html') return html(res, probe);
        if (url.pathname === '/config.json') {
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          return res.end(config);
        }
        html(res, 'not found', 404);
      });
      const origin = `http://127.0.0.1:${port}`;
      const redirectUri = `${origin}/spa.html`;
      const client = await newClient({
        client_type: 'public',
        redirect_uris: [redirectUri],
        client_name: 'Lap Timer Web',
      });
      config = JSON.stringify({
        authorization_endpoint: `${server.url}/oauth2/authorize`,
        token_endpoint: `${server.url}/oauth2/token`,
        profile_endpoint: `${server.url}/oauth2/iracing/profile`,
        client_id: client.clientId,
        redirect_uri: redirectUri,
      });
      return { origin, port, redirectUri, client };
    })();
    return spa;
  }

  test('a single-page app on another origin: PKCE in the page, /token and /profile by cross-origin fetch', async (t) => {
    const app = await spaApp();
    const user = await newUser();
    const page = await (await newContext(t)).newPage();
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) {
        const code = new URL(f.url()).searchParams.get('code');
        if (code) noteSecret(code);
      }
    });
    const tokenResponse = page.waitForResponse(
      (r) => r.url() === `${server.url}/oauth2/token` && r.request().method() === 'POST',
    );

    await page.goto(`${app.origin}/spa.html`);
    await page.getByText('ready', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Sign in with Paddock' }).click();
    await page.waitForURL((u) => u.pathname === '/oauth2/login');
    await signInWith(page, user);
    assert.ok((await page.locator('main').innerText()).includes('Lap Timer Web'));
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForFunction(() =>
      /^(done|error)/.test(document.getElementById('status')?.textContent ?? ''),
    );
    const status = await page.locator('#status').innerText();
    const tr = await tokenResponse;
    try {
      const body = await tr.json();
      noteSecret(body.access_token, body.refresh_token);
    } catch {}
    assert.equal(status, 'done', `the SPA reports: ${status}`);
    assert.equal(tr.status(), 200);
    assert.equal(
      (await tr.allHeaders())['access-control-allow-origin'],
      app.origin,
      'CORS for the SPA origin',
    );
    const result = JSON.parse(await page.locator('#result').innerText());
    assert.deepEqual(result.profile, { iracing_name: user.displayName, iracing_cust_id: user.custId });
    assert.equal(result.scope, 'iracing.profile');
    assert.equal(result.token_type, 'Bearer');
    assert.equal(new URL(page.url()).origin, app.origin);
    assert.equal(new URL(page.url()).search, '', 'the page removed the code from its address');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('paddock_pkce')), null);
  });

  test('a page on an unregistered origin cannot read the /token or /profile responses', async (t) => {
    const app = await spaApp();
    const context = await newContext(t);
    const form = {
      grant_type: 'authorization_code',
      client_id: app.client.clientId,
      code: 'not-a-real-code-but-long-enough-to-look-like-one',
      redirect_uri: app.redirectUri,
      code_verifier: 'v'.repeat(43),
    };
    interface Outcome {
      read: boolean;
      status?: number;
      body?: string;
      error?: string;
    }
    // window.probe is defined by the fixture page (a function passed to evaluate must not define named
    // helpers: tsx would wrap them in a __name() the page does not have).
    const probe = (page: Page) =>
      page.evaluate(
        (args) =>
          (
            window as unknown as { probe(a: typeof args): Promise<{ token: Outcome; profile: Outcome }> }
          ).probe(args),
        {
          tokenEndpoint: `${server.url}/oauth2/token`,
          profileEndpoint: `${server.url}/oauth2/iracing/profile`,
          form,
        },
      );

    // The control: the SPA's own (registered) origin reads the error responses.
    const registered = await context.newPage();
    await registered.goto(`${app.origin}/probe.html`);
    const ok = await probe(registered);
    assert.equal(ok.token.read, true, JSON.stringify(ok.token));
    assert.equal(ok.token.status, 400);
    assert.equal(JSON.parse(ok.token.body!).error, 'invalid_grant');
    assert.equal(ok.profile.read, true, JSON.stringify(ok.profile));
    assert.equal(ok.profile.status, 401);

    // The same server under another name is another origin, one no client registered.
    const foreign = await context.newPage();
    const consoleErrors: string[] = [];
    foreign.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await foreign.goto(`http://localhost:${app.port}/probe.html`);
    assert.equal(new URL(foreign.url()).origin, `http://localhost:${app.port}`);
    const refused = await probe(foreign);
    assert.equal(
      refused.token.read,
      false,
      `an unregistered origin read /token: ${JSON.stringify(refused.token)}`,
    );
    assert.match(refused.token.error!, /^TypeError/);
    assert.equal(
      refused.profile.read,
      false,
      `an unregistered origin read /profile: ${JSON.stringify(refused.profile)}`,
    );
    assert.match(refused.profile.error!, /^TypeError/);
    assert.ok(
      consoleErrors.some((e) => /CORS/i.test(e)),
      `Chromium blamed CORS: ${JSON.stringify(consoleErrors)}`,
    );
  });

  test('native app: loopback listener on an ephemeral port, registered as http://127.0.0.1:0/callback', async (t) => {
    const user = await newUser();
    const client = await newClient({
      client_type: 'public',
      redirect_uris: ['http://127.0.0.1:0/callback'],
      client_name: 'Lap Timer Desktop',
    });
    const { verifier, challenge } = pkce();
    const state = randomBytes(12).toString('base64url');

    // The native app: listen on port 0, take one callback, answer, shut down.
    let received: (u: URL) => void = () => {};
    const gotCallback = new Promise<URL>((resolve) => {
      received = resolve;
    });
    const { srv: listener, port } = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/callback') return html(res, 'not found', 404);
      const code = url.searchParams.get('code');
      if (code) noteSecret(code);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', connection: 'close' });
      res.end('<!doctype html><title>Lap Timer Desktop</title><p>You can close this window.</p>', () => {
        listener.close();
        listener.closeAllConnections();
        received(url);
      });
    });
    assert.ok(port > 0);
    const redirectUri = `http://127.0.0.1:${port}/callback`;

    const page = await (await newContext(t)).newPage();
    await page.goto(
      authorizeUrl(client, redirectUri, { scope: 'iracing.auth', state, code_challenge: challenge }),
    );
    await signInWith(page, user);
    assert.ok((await page.locator('main').innerText()).includes('Lap Timer Desktop'));
    await page.getByRole('button', { name: 'Allow' }).click();
    const cb = await within(gotCallback, 'the loopback listener');
    await page.getByText('You can close this window').waitFor();
    assert.equal(page.url().startsWith(`${redirectUri}?`), true, page.url());
    assert.equal(cb.searchParams.get('state'), state);
    await within(
      new Promise<void>((resolve) =>
        listener.listening ? listener.once('close', () => resolve()) : resolve(),
      ),
      'the listener to close',
    );
    assert.equal(listener.listening, false, 'the listener shut down');

    // A public client: no secret, the PKCE verifier proves it is the same app.
    const code = cb.searchParams.get('code')!;
    const r = await exchangeCode(client, code, redirectUri, verifier);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.scope, 'iracing.auth');
    const { payload } = decodeJwt(r.body.access_token);
    assert.equal(payload.sub, user.userId);
    assert.ok(payload.aud.includes(client.clientId));
  });

  test('screenshots of the sign-in and consent pages (desktop, mobile); no console errors', async (t) => {
    const app = await startClientApp();
    const client = await newClient({ redirect_uris: [app.redirectUri], client_name: 'Lap Timer Pro' });
    for (const [name, options, pngWidth] of SCREENSHOT_DEVICES) {
      const user = await newUser();
      const page = await (await newContext(t, options)).newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning')
          problems.push(`${m.type()}: ${m.text()} @ ${page.url()}`);
      });
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));

      await page.goto(
        authorizeUrl(client, app.redirectUri, {
          scope: 'iracing.profile iracing.auth',
          code_challenge: pkce().challenge,
        }),
      );
      await page.getByLabel('Email').waitFor();
      const login = path.join(SCREENSHOTS, `login-${name}.png`);
      await page.screenshot({ path: login, fullPage: true });
      assert.deepEqual(problems, [], `${name}: the sign-in page logged problems`);

      await signInWith(page, user);
      const consent = path.join(SCREENSHOTS, `consent-${name}.png`);
      await page.screenshot({ path: consent, fullPage: true });
      assert.deepEqual(problems, [], `${name}: the consent page logged problems`);

      for (const file of [login, consent]) {
        const png = fs.readFileSync(file);
        assert.ok(png.length > 1000, `${file} is ${png.length} bytes`);
        assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${file} is a PNG`);
        assert.equal(png.readUInt32BE(16), pngWidth, `${file} is ${pngWidth} pixels wide`);
      }
    }
  });
});
