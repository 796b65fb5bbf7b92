// Consent, by the rules Paddock follows where the book is silent: a stored decision per user, client and
// scope set, and no stored decision means the consent page, for every scope set including the empty one;
// public clients whose redirect URI proves nothing (loopback, custom scheme: RFC 8252 section 8.6) are
// asked every time. Pure rules first, then over HTTP, then in Chromium.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium, Page as ChromiumPage } from 'playwright-core';
import { consentRemembered, needsConsent, needsSignIn } from '../src/oauth/consent.ts';
import { chromiumSkip, launchChromium } from './chromium.ts';
import {
  authorizeThrough,
  authorizeUrl,
  callbackParams,
  decide,
  isConsentUrl,
  isLoginUrl,
  newClient,
  newUser,
  signIn,
} from './flow.ts';
import { noteSecret, startInProcess, type TestServer } from './helpers.ts';
import { Browser } from './http-browser.ts';

const PUBLIC = { client_type: 'public' } as const;
const CONFIDENTIAL = { client_type: 'confidential' } as const;

describe('consent: a stored decision per user, client and scope set', () => {
  const ask = (granted: string[] | undefined, asked: string[]) =>
    needsConsent({ granted, asked, client: CONFIDENTIAL, redirectUri: 'https://conf.example/cb' });

  test('no stored decision: consent is needed, whatever the scopes, the empty set included', () => {
    assert.equal(ask(undefined, []), true);
    assert.equal(ask(undefined, ['iracing.profile']), true);
    assert.equal(ask(undefined, ['iracing.auth', 'iracing.profile']), true);
  });

  test('a stored decision covers the same scopes and any subset, the empty set included', () => {
    assert.equal(ask([], []), false);
    assert.equal(ask(['iracing.profile'], []), false);
    assert.equal(ask(['iracing.profile'], ['iracing.profile']), false);
    assert.equal(ask(['iracing.auth', 'iracing.profile'], ['iracing.auth']), false);
  });

  test('a scope not in the stored decision needs consent', () => {
    assert.equal(ask([], ['iracing.profile']), true);
    assert.equal(ask(['iracing.profile'], ['iracing.auth', 'iracing.profile']), true);
  });
});

describe('Native Application Support: a remembered consent proves nothing for loopback and custom schemes (RFC 8252 section 8.6)', () => {
  test('a confidential client keeps remembered consent, whatever its redirect URI', () => {
    for (const uri of ['https://conf.example/cb', 'http://127.0.0.1:49152/cb', 'com.example.app://cb/']) {
      assert.equal(consentRemembered(CONFIDENTIAL, uri), true, uri);
    }
  });

  test('a public client keeps remembered consent only on an https redirect URI', () => {
    assert.equal(consentRemembered(PUBLIC, 'https://app.example/cb'), true);
    for (const uri of [
      'http://127.0.0.1:49152/callback',
      'http://[::1]:49152/callback',
      'com.example.app://oauth/callback',
      'my_iracing_app://callback/',
      'http://app.example/cb',
      'HTTPS-not://x/y',
    ]) {
      assert.equal(consentRemembered(PUBLIC, uri), false, uri);
    }
  });

  test('so a public loopback client needs consent even with a stored decision covering the scopes', () => {
    const input = { granted: ['iracing.auth'], asked: ['iracing.auth'], client: PUBLIC };
    assert.equal(needsConsent({ ...input, redirectUri: 'http://127.0.0.1:50000/callback' }), true);
    assert.equal(needsConsent({ ...input, redirectUri: 'https://app.example/cb' }), false);
  });
});

describe('/authorize prompt=verify: sign-in needed', () => {
  test('without a browser session', () => {
    assert.equal(needsSignIn({ prompt: null, verified_session: null }, undefined), true);
  });
  test('with a session and no prompt: not needed', () => {
    assert.equal(needsSignIn({ prompt: null, verified_session: null }, 'h1'), false);
  });
  test('prompt=verify: needed until this request was signed in by this very session', () => {
    assert.equal(needsSignIn({ prompt: 'verify', verified_session: null }, 'h1'), true);
    assert.equal(needsSignIn({ prompt: 'verify', verified_session: 'h0' }, 'h1'), true);
    assert.equal(needsSignIn({ prompt: 'verify', verified_session: 'h1' }, 'h1'), false);
  });
});

// ---- over HTTP

const CONF_CB = 'https://conf.example/cb';
const SPA_CB = 'https://spa.example/cb';
const CUSTOM_CB = 'com.example.laptimer://oauth/callback';

describe('consent over HTTP', () => {
  let server: TestServer;
  let conf: string;
  let spa: string;
  let native: string;
  let custom: string;
  let confLoopback: string;

  before(async () => {
    server = await startInProcess({ name: 'consent' });
    const store = server.ctx!.store;
    conf = (await newClient(store, { redirect_uris: [CONF_CB] })).clientId;
    spa = (await newClient(store, { client_type: 'public', redirect_uris: [SPA_CB] })).clientId;
    native = (
      await newClient(store, {
        client_type: 'public',
        redirect_uris: ['http://127.0.0.1:0/callback', 'http://[::1]:0/callback'],
      })
    ).clientId;
    custom = (await newClient(store, { client_type: 'public', redirect_uris: [CUSTOM_CB] })).clientId;
    confLoopback = (await newClient(store, { redirect_uris: ['http://127.0.0.1:0/callback'] })).clientId;
  });
  after(() => server.stop());

  test('no stored consent and no scope: after sign-in, the consent page, not a code', async () => {
    const u = await newUser(server.ctx!.store);
    const b = new Browser();
    const start = await b.open(authorizeUrl(server, { client_id: conf, redirect_uri: CONF_CB }));
    assert.ok(isLoginUrl(server, start.location), String(start.location));
    const signedIn = await signIn(server, b, start.location!, u);
    assert.equal(signedIn.status, 303, signedIn.text);
    assert.ok(isConsentUrl(server, signedIn.location), `to the consent page, not ${signedIn.rawLocation}`);
    const { page, result } = await decide(server, b, signedIn.location!, 'allow');
    assert.match(page.text, /asks for no special access/);
    assert.ok(callbackParams(result, CONF_CB).get('code'));
  });

  test('a signed-in user asked by a client they never approved, with no scope: the consent page', async () => {
    const u = await newUser(server.ctx!.store);
    const b = new Browser();
    await authorizeThrough(server, b, u, authorizeUrl(server, { client_id: spa, redirect_uri: SPA_CB }));
    const other = await b.open(authorizeUrl(server, { client_id: conf, redirect_uri: CONF_CB }));
    assert.equal(other.status, 302);
    assert.ok(isConsentUrl(server, other.location), `the consent page, not ${other.rawLocation}`);
  });

  test('a stored decision for no scope is a decision: the next scope-less request comes straight back', async () => {
    const u = await newUser(server.ctx!.store);
    const b = new Browser();
    const first = await authorizeThrough(
      server,
      b,
      u,
      authorizeUrl(server, { client_id: spa, redirect_uri: SPA_CB }),
    );
    assert.ok(first.consented, 'the first authorization asked for consent');
    const again = await b.open(authorizeUrl(server, { client_id: spa, redirect_uri: SPA_CB, state: 's2' }));
    const params = callbackParams(again, SPA_CB);
    assert.ok(params.get('code'));
    assert.equal(params.get('state'), 's2');
    // A wider scope set is a new question.
    const wider = await b.open(
      authorizeUrl(server, { client_id: spa, redirect_uri: SPA_CB, scope: 'iracing.profile' }),
    );
    assert.ok(isConsentUrl(server, wider.location), String(wider.rawLocation));
  });

  test('a public loopback client is asked again after an earlier consent, without the password', async () => {
    const u = await newUser(server.ctx!.store);
    const b = new Browser();
    const first = await authorizeThrough(
      server,
      b,
      u,
      authorizeUrl(server, {
        client_id: native,
        redirect_uri: 'http://127.0.0.1:50001/callback',
        scope: 'iracing.auth',
      }),
    );
    assert.ok(
      first.signedIn && first.consented,
      'the first authorization asked for the password and consent',
    );
    assert.ok(callbackParams(first.final, 'http://127.0.0.1:50001/callback').get('code'));

    for (const redirectUri of [
      'http://127.0.0.1:50002/callback',
      'http://127.0.0.1:50001/callback',
      'http://[::1]:50003/callback',
    ]) {
      const again = await b.open(
        authorizeUrl(server, { client_id: native, redirect_uri: redirectUri, scope: 'iracing.auth' }),
      );
      assert.equal(again.status, 302, again.text);
      assert.ok(
        isConsentUrl(server, again.location),
        `${redirectUri}: consent again, not ${again.rawLocation}`,
      );
      const { page, result } = await decide(server, b, again.location!, 'allow');
      assert.match(page.text, /Authorization for iRacing services\./);
      assert.ok(callbackParams(result, redirectUri).get('code'));
    }
  });

  test('a public custom-scheme client is asked every time', async () => {
    const u = await newUser(server.ctx!.store);
    const b = new Browser();
    const first = await authorizeThrough(
      server,
      b,
      u,
      authorizeUrl(server, { client_id: custom, redirect_uri: CUSTOM_CB }),
    );
    assert.ok(first.consented, 'the first authorization asked for consent');
    const again = await b.open(authorizeUrl(server, { client_id: custom, redirect_uri: CUSTOM_CB }));
    assert.ok(isConsentUrl(server, again.location), String(again.rawLocation));
  });

  test('confidential clients (loopback ones included) and public https clients keep remembered consent', async () => {
    const u = await newUser(server.ctx!.store);
    const b = new Browser();
    const cases: [string, string][] = [
      [conf, CONF_CB],
      [spa, SPA_CB],
      [confLoopback, 'http://127.0.0.1:50004/callback'],
    ];
    for (const [clientId, redirectUri] of cases) {
      const params = { client_id: clientId, redirect_uri: redirectUri, scope: 'iracing.profile' };
      const first = await authorizeThrough(server, b, u, authorizeUrl(server, params));
      assert.ok(first.consented, `${clientId}: the first authorization asked for consent`);
      const again = await b.open(authorizeUrl(server, params));
      assert.ok(callbackParams(again, redirectUri).get('code'), `${clientId}: straight back with a code`);
    }
  });
});

// ---- in Chromium

/** A local app: its /callback records what the browser brings back and says so in a heading. */
async function appListener(t: { after(fn: () => Promise<void>): void }) {
  const landed: URL[] = [];
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/callback') {
      landed.push(url);
      noteSecret(url.searchParams.get('code') ?? undefined);
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', connection: 'close' });
    res.end('<!doctype html><title>App</title><h1>Back in the app</h1>');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      }),
  );
  return { redirectUri: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/callback`, landed };
}

describe('consent in Chromium', { skip: chromiumSkip }, () => {
  let server: TestServer;
  let chromium: Chromium;
  before(async () => {
    server = await startInProcess({ name: 'consent-browser' });
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.stop();
  });

  async function newPage(t: { after(fn: () => Promise<void>): void }) {
    const context = await chromium.newContext();
    context.setDefaultTimeout(15_000);
    t.after(() => context.close());
    return context.newPage();
  }

  const pathOf = (page: ChromiumPage) => new URL(page.url()).pathname;

  async function fillSignIn(page: ChromiumPage, user: { username: string; password: string }) {
    assert.equal(pathOf(page), '/oauth2/login', page.url());
    await page.getByLabel('Email').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** Waits for the consent page, or fails early when the browser went anywhere else. */
  async function consentPage(page: ChromiumPage) {
    await page.waitForURL((u) => u.pathname !== '/oauth2/login' && u.pathname !== '/oauth2/authorize');
    assert.equal(pathOf(page), '/oauth2/consent', `the consent page, not ${page.url()}`);
    await page.getByRole('button', { name: 'Allow' }).waitFor();
  }

  test('a client with no stored consent and no scope shows the consent page after sign-in', async (t) => {
    const app = await appListener(t);
    const { clientId } = await newClient(server.ctx!.store, {
      redirect_uris: [app.redirectUri],
      client_name: 'Scopeless Widget',
      allow_http: true,
    });
    const user = await newUser(server.ctx!.store, 'Casey Driver');
    const page = await newPage(t);
    await page.goto(
      authorizeUrl(server, { client_id: clientId, redirect_uri: app.redirectUri, state: 'st' }),
    );
    await fillSignIn(page, user);
    await consentPage(page);
    const text = await page.locator('main').innerText();
    assert.ok(text.includes('Scopeless Widget'), text);
    assert.ok(text.includes('Casey Driver'), text);
    assert.ok(text.includes('asks for no special access'), text);
    assert.deepEqual(landed(app), [], 'no code reached the app before the user decided');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Back in the app' }).waitFor();
    assert.ok(app.landed[0]?.searchParams.get('code'));
    assert.equal(app.landed[0]?.searchParams.get('state'), 'st');
  });

  test('a public loopback client is asked again after an earlier consent (no password the second time)', async (t) => {
    const { clientId } = await newClient(server.ctx!.store, {
      client_type: 'public',
      redirect_uris: ['http://127.0.0.1:0/callback'],
      client_name: 'Lap Timer Desktop',
    });
    const user = await newUser(server.ctx!.store);
    const page = await newPage(t);
    const url = (redirectUri: string) =>
      authorizeUrl(server, { client_id: clientId, redirect_uri: redirectUri, scope: 'iracing.auth' });

    const first = await appListener(t);
    await page.goto(url(first.redirectUri));
    await fillSignIn(page, user);
    await consentPage(page);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Back in the app' }).waitFor();
    assert.ok(first.landed[0]?.searchParams.get('code'));

    // Another local program with the same client id and its own port: the user is asked, not bypassed.
    const second = await appListener(t);
    await page.goto(url(second.redirectUri));
    await consentPage(page);
    assert.ok((await page.locator('main').innerText()).includes('Lap Timer Desktop'));
    assert.deepEqual(landed(second), [], 'no code went to the second port before the user decided');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Back in the app' }).waitFor();
    assert.ok(second.landed[0]?.searchParams.get('code'));
  });
});

const landed = (app: { landed: URL[] }) => app.landed.map((u) => u.href);
