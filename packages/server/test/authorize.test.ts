// The authorization code flow over HTTP, as a browser and an app see it: /authorize and its errors, the
// sign-in and consent pages, the authorization_code grant, CORS and discovery. In-process server on
// SQLite with a test clock, so that auth_time and the 60 s code lifetime can be checked exactly.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createUser } from '../src/accounts/users.ts';
import { type ClientInput, createClient } from '../src/clients/registry.ts';
import { mask } from '../src/oauth/masking.ts';
import type { Store } from '../src/store/store.ts';
import { assertBookError, assertTokenResponse } from './assertions.ts';
import { headless, login as passwordLogin } from './fixtures.ts';
import {
  decodeJwt,
  get,
  type HttpResult,
  noteSecret,
  post,
  startInProcess,
  TestClock,
  type TestServer,
} from './helpers.ts';
import { Browser, hidden, type Page, TEST_BROWSER_UA } from './http-browser.ts';

const TOKEN_UA = 'paddock-test-app/1.0';
const STATE = 'a b&c=d/é+x';

// Redirect URIs of the test clients.
const SPA_CB = 'https://app.example/cb';
const SPA_FLOW_ONE = 'https://app.example/cb?flow=one';
const LOOPBACK4 = 'http://127.0.0.1:0/callback';
const LOOPBACK6 = 'http://[::1]:0/callback';
const CONF_CB = 'https://conf.example/callback';
const OTHER_CB = 'https://other.example/cb';

const SPA = 'spa';
const SPA6 = 'spa-v6';
const OTHER = 'other-spa';
const CONF = 'conf';
const NO_CODE = 'no-code-grant';
const DISABLED = 'disabled';

let server: TestServer;
let store: Store;
const clock = new TestClock();
let confSecret: string;
let confMasked: string;

const nowS = () => Math.floor(clock.now() / 1000);
const tokenUrl = () => `${server.url}/oauth2/token`;
const profileUrl = () => `${server.url}/oauth2/iracing/profile`;

// ---- users and clients

interface TestUser {
  username: string;
  password: string;
  userId: string;
  custId: number;
}

let nextCust = 900_000;
async function newUser(s: Store, name = 'Ada Lovelace'): Promise<TestUser> {
  const custId = ++nextCust;
  const username = `user${custId}@example.com`;
  const password = `pw-${randomBytes(9).toString('base64url')}-Correct-Horse`;
  const user = await createUser(s, { username, display_name: name, password, cust_id: custId }, 0);
  noteSecret(password, mask(password, username));
  return { username, password, userId: user.user_id, custId };
}

async function newClient(s: Store, input: ClientInput): Promise<string | undefined> {
  const { client_secret } = await createClient(s, input, 0);
  if (client_secret) noteSecret(client_secret, mask(client_secret, input.client_id));
  return client_secret;
}

// ---- PKCE

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url'); // 64 characters
  noteSecret(verifier);
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function cookieNamed(setCookies: string[], name: string): string | undefined {
  return setCookies.find((c) => c.startsWith(`${name}=`));
}

// ---- flow steps

function authorizeUrl(params: Record<string, string> | string): string {
  const q = typeof params === 'string' ? params : new URLSearchParams(params).toString();
  return `${server.url}/oauth2/authorize?${q}`;
}

function isLoginUrl(url: string | undefined): boolean {
  return !!url && url.startsWith(`${server.url}/oauth2/login?request_id=`);
}
function isConsentUrl(url: string | undefined): boolean {
  return !!url && url.startsWith(`${server.url}/oauth2/consent?request_id=`);
}

/** Opens the sign-in page and submits it. */
async function signIn(b: Browser, loginUrl: string, email: string, password: string) {
  const page = await b.open(loginUrl);
  assert.equal(page.status, 200, page.text);
  const form = {
    request_id: hidden(page.text, 'request_id'),
    csrf_token: hidden(page.text, 'csrf_token'),
    email,
    password,
  };
  noteSecret(form.csrf_token);
  return { page, result: await b.open(`${server.url}/oauth2/login`, { form }) };
}

/** Opens the consent page and answers it. */
async function decide(b: Browser, consentUrl: string, decision: 'allow' | 'deny') {
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

/** The code and state of a redirect to the app, checking it goes to exactly that redirect URI. */
function codeFrom(page: Page, redirectUri: string, status: number): { code: string; state: string | null } {
  assert.equal(page.status, status, page.text);
  const sep = redirectUri.includes('?') ? '&' : '?';
  assert.ok(page.rawLocation?.startsWith(`${redirectUri}${sep}`), `Location ${page.rawLocation}`);
  const params = new URL(page.rawLocation!).searchParams;
  assert.equal(params.get('error'), null, page.rawLocation!);
  const code = params.get('code');
  assert.ok(code, 'a code');
  noteSecret(code);
  return { code, state: params.get('state') };
}

/** Runs /authorize through whatever sign-in and consent it asks for; returns the code. */
async function authorizeToCode(
  b: Browser,
  user: TestUser,
  params: Record<string, string>,
): Promise<{ code: string; state: string | null }> {
  let page = await b.open(authorizeUrl(params));
  if (isLoginUrl(page.location))
    page = (await signIn(b, page.location!, user.username, user.password)).result;
  if (isConsentUrl(page.location)) page = (await decide(b, page.location!, 'allow')).result;
  assert.ok([302, 303].includes(page.status), `${page.status} ${page.text}`);
  return codeFrom(page, params.redirect_uri!, page.status);
}

async function exchange(form: Record<string, string>): Promise<HttpResult> {
  const r = await post(tokenUrl(), form, { 'user-agent': TOKEN_UA });
  if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
  return r;
}

function spaParams(over: Record<string, string | undefined> = {}, challenge = pkce().challenge) {
  const p: Record<string, string> = {};
  const all: Record<string, string | undefined> = {
    client_id: SPA,
    redirect_uri: SPA_CB,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'iracing.profile',
    state: STATE,
    ...over,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) p[k] = v;
  return p;
}

// ---- the book's error object

const assertError = (
  r: { status: number; body: any; headers: Headers },
  status: number,
  error: string,
  d?: RegExp,
) => assertBookError(server.issuer, r, status, error, d);

/** A fetch that does not follow redirects, shaped like the helpers' results. */
async function fetchManual(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { redirect: 'manual', headers });
  const text = await r.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, text, body, location: r.headers.get('location') };
}

// ---- the server

before(async () => {
  server = await startInProcess({ clock, env: { PADDOCK_LOCKOUT_THRESHOLD: '5' }, name: 'authorize' });
  store = server.ctx!.store;
  await newClient(store, {
    client_id: SPA,
    client_name: 'Lap Timer SPA',
    client_type: 'public',
    redirect_uris: [SPA_CB, SPA_FLOW_ONE, LOOPBACK4],
    developer_name: 'Pit Lane Software',
  });
  await newClient(store, {
    client_id: SPA6,
    client_name: 'Native v6',
    client_type: 'public',
    redirect_uris: [LOOPBACK6],
  });
  await newClient(store, {
    client_id: OTHER,
    client_name: 'Another SPA',
    client_type: 'public',
    redirect_uris: [OTHER_CB],
  });
  confSecret = (await newClient(store, {
    client_id: CONF,
    client_name: 'Server app',
    redirect_uris: [CONF_CB],
  }))!;
  confMasked = mask(confSecret, CONF);
  await newClient(store, {
    client_id: NO_CODE,
    client_name: 'Headless only',
    grant_types: ['password_limited', 'refresh_token'],
    redirect_uris: ['https://nocode.example/cb'],
  });
  await newClient(store, {
    client_id: DISABLED,
    client_name: 'Disabled app',
    client_type: 'public',
    redirect_uris: ['https://disabled.example/cb'],
  });
  await store.updateClient(DISABLED, { disabled_at: 1 }, 0);
});
after(() => server.stop());

// ---- /authorize errors

describe('/authorize errors before client_id and redirect_uri are validated: JSON (or a page), no redirect', () => {
  const ch = pkce().challenge;
  const q = (over: Record<string, string | undefined>) => new URLSearchParams(spaParams(over, ch)).toString();
  const cases: [string, () => string, number, string, RegExp][] = [
    ['missing client_id', () => q({ client_id: undefined }), 400, 'invalid_request', /client_id missing/],
    ['unknown client_id', () => q({ client_id: 'nobody' }), 403, 'invalid_client', /client_id/],
    ['missing redirect_uri', () => q({ redirect_uri: undefined }), 400, 'invalid_request', /redirect_uri/],
    [
      'unregistered redirect_uri',
      () => q({ redirect_uri: 'https://evil.example/cb' }),
      403,
      'invalid_client',
      /redirect_uri/,
    ],
    [
      'redirect_uri with an explicit :443',
      () => q({ redirect_uri: 'https://app.example:443/cb' }),
      403,
      'invalid_client',
      /redirect_uri/,
    ],
    [
      'redirect_uri with a trailing slash',
      () => q({ redirect_uri: 'https://app.example/cb/' }),
      403,
      'invalid_client',
      /redirect_uri/,
    ],
    [
      'redirect_uri ?flow=two where ?flow=one is registered',
      () => q({ redirect_uri: 'https://app.example/cb?flow=two' }),
      403,
      'invalid_client',
      /redirect_uri/,
    ],
    [
      'redirect_uri differing in case',
      () => q({ redirect_uri: 'https://app.example/CB' }),
      403,
      'invalid_client',
      /redirect_uri/,
    ],
    [
      'redirect_uri with a fragment',
      () => q({ redirect_uri: 'https://app.example/cb#x' }),
      403,
      'invalid_client',
      /redirect_uri/,
    ],
    ['repeated client_id', () => `${q({})}&client_id=${SPA}`, 400, 'invalid_request', /client_id.*repeated/],
    [
      'repeated redirect_uri',
      () => `${q({})}&redirect_uri=${encodeURIComponent(SPA_CB)}`,
      400,
      'invalid_request',
      /redirect_uri.*repeated/,
    ],
    [
      'disabled client',
      () => q({ client_id: DISABLED, redirect_uri: 'https://disabled.example/cb' }),
      401,
      'unauthorized_client',
      /disabled/,
    ],
  ];
  for (const [name, query, status, error, why] of cases) {
    test(`${name}: ${status} ${error} as JSON, and as a page for a browser`, async () => {
      const json = await fetchManual(authorizeUrl(query()));
      assert.equal(json.location, null, 'never a redirect');
      assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
      await assertError(json, status, error, why);

      const html = await fetchManual(authorizeUrl(query()), { accept: 'text/html,application/xhtml+xml' });
      assert.equal(html.status, status);
      assert.equal(html.location, null, 'never a redirect');
      assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(html.text, new RegExp(`>${error}<`));
      const requestId = html.headers.get('x-request-id');
      assert.match(requestId ?? '', /^[0-9a-f-]{36}$/);
      assert.ok(html.text.includes(requestId!), 'the page shows the request id');
      assert.match(html.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assert.equal(html.headers.get('cache-control'), 'no-store');
    });
  }
});

describe('/authorize errors once the client and redirect URI are known: 302 to the redirect URI', () => {
  const ch = pkce().challenge;
  const base = { redirect_uri: SPA_FLOW_ONE };
  const q = (over: Record<string, string | undefined>) =>
    new URLSearchParams(spaParams({ ...base, ...over }, ch)).toString();
  const cases: [string, () => string, string, RegExp, string?][] = [
    ['missing response_type', () => q({ response_type: undefined }), 'invalid_request', /response_type/],
    ['response_type=token', () => q({ response_type: 'token' }), 'unsupported_response_type', /token/],
    [
      'a public client without code_challenge',
      () => q({ code_challenge: undefined, code_challenge_method: undefined }),
      'invalid_request',
      /code_challenge/,
    ],
    [
      'a 42-character code_challenge',
      () => q({ code_challenge: 'A'.repeat(42) }),
      'invalid_request',
      /code_challenge/,
    ],
    [
      'a 129-character code_challenge',
      () => q({ code_challenge: 'A'.repeat(129) }),
      'invalid_request',
      /code_challenge/,
    ],
    [
      'a code_challenge with a disallowed character',
      () => q({ code_challenge: `${'A'.repeat(42)}$` }),
      'invalid_request',
      /code_challenge/,
    ],
    [
      'code_challenge_method=S512',
      () => q({ code_challenge_method: 'S512' }),
      'invalid_request',
      /code_challenge_method/,
    ],
    ['an unknown scope', () => q({ scope: 'iracing.admin' }), 'invalid_scope', /unknown/],
    [
      'a duplicated scope',
      () => q({ scope: 'iracing.profile iracing.profile' }),
      'invalid_scope',
      /duplicated/,
    ],
    [
      'a malformed scope (two spaces)',
      () => q({ scope: 'iracing.auth  iracing.profile' }),
      'invalid_scope',
      /malformed/,
    ],
    ['a scope with a disallowed character', () => q({ scope: 'iracing."auth' }), 'invalid_scope', /./],
    ['scope given twice', () => `${q({})}&scope=iracing.auth`, 'invalid_request', /scope.*repeated/],
    [
      'a client without the authorization_code grant',
      () => q({ client_id: NO_CODE, redirect_uri: 'https://nocode.example/cb' }),
      'unauthorized_client',
      /authorization code/,
      'https://nocode.example/cb',
    ],
  ];
  for (const [name, query, error, why, redirect = SPA_FLOW_ONE] of cases) {
    test(`${name}: ${error}, with the state unmodified`, async () => {
      const r = await fetchManual(authorizeUrl(query()));
      assert.equal(r.status, 302, r.text);
      assert.ok(r.location?.startsWith(`${redirect}${redirect.includes('?') ? '&' : '?'}`), r.location!);
      assert.doesNotMatch(r.location!, /[\s\u0080-\uffff]/, 'the Location header is fully encoded');
      const params = new URL(r.location!).searchParams;
      if (redirect === SPA_FLOW_ONE) assert.deepEqual(params.getAll('flow'), ['one']);
      assert.equal(params.get('error'), error);
      assert.match(params.get('error_description') ?? '', why);
      assert.equal(params.get('error_uri'), `${server.issuer}/oauth2/book/error_${error}.html`);
      assert.equal(params.get('state'), STATE);
      assert.equal(params.get('code'), null);
      assert.equal((await fetch(params.get('error_uri')!)).status, 200);
    });
  }

  test('a repeated state is invalid_request and no state is echoed', async () => {
    const r = await fetchManual(authorizeUrl(`${q({})}&state=other`));
    assert.equal(r.status, 302);
    const params = new URL(r.location!).searchParams;
    assert.equal(params.get('error'), 'invalid_request');
    assert.equal(params.get('state'), null);
  });

  test('without a state, the error redirect carries none', async () => {
    const r = await fetchManual(authorizeUrl(q({ state: undefined, response_type: 'token' })));
    assert.equal(r.status, 302);
    const params = new URL(r.location!).searchParams;
    assert.equal(params.get('error'), 'unsupported_response_type');
    assert.ok(!params.has('state'));
  });
});

describe('redirect URI matching', () => {
  const ch = pkce().challenge;
  const status = async (clientId: string, redirectUri: string) => {
    const r = await fetchManual(
      authorizeUrl(spaParams({ client_id: clientId, redirect_uri: redirectUri }, ch)),
    );
    return r;
  };

  test('a registered http://127.0.0.1:0/callback matches any port on 127.0.0.1, same path', async () => {
    for (const port of [1, 49152, 65535]) {
      const r = await status(SPA, `http://127.0.0.1:${port}/callback`);
      assert.equal(r.status, 302, `${port}: ${r.text}`);
      assert.ok(isLoginUrl(new URL(r.location!, server.url).href), r.location!);
    }
  });

  test('it does not match localhost, [::1], another path, port 65536 or a missing port', async () => {
    for (const uri of [
      'http://localhost:49152/callback',
      'http://[::1]:49152/callback',
      'http://127.0.0.1:49152/other',
      'http://127.0.0.1:49152/callback/',
      'http://127.0.0.1:65536/callback',
      'http://127.0.0.1/callback',
      'https://127.0.0.1:49152/callback',
    ]) {
      const r = await status(SPA, uri);
      assert.equal(r.location, null, uri);
      await assertError(r, 403, 'invalid_client', /redirect_uri/);
    }
  });

  test('http://[::1]:<port> matches only where [::1]:0 is registered', async () => {
    const r = await status(SPA6, 'http://[::1]:49152/callback');
    assert.equal(r.status, 302, r.text);
    assert.ok(isLoginUrl(new URL(r.location!, server.url).href));
    const v4 = await status(SPA6, 'http://127.0.0.1:49152/callback');
    await assertError(v4, 403, 'invalid_client');
  });

  test('a registered query is kept byte for byte on success', async () => {
    const b = new Browser();
    const u = await newUser(store);
    const { code, state } = await authorizeToCode(b, u, spaParams({ redirect_uri: SPA_FLOW_ONE }));
    assert.ok(code);
    assert.equal(state, STATE);
  });
});

describe('/authorize options', () => {
  test('unknown prompt values are ignored: the flow continues to the sign-in page', async () => {
    for (const prompt of ['none', 'login consent', 'select_account', 'whatever']) {
      const r = await fetchManual(authorizeUrl(spaParams({ prompt })));
      assert.equal(r.status, 302, `${prompt}: ${r.text}`);
      assert.ok(isLoginUrl(new URL(r.location!, server.url).href), r.location!);
    }
  });

  test('a confidential client may leave out code_challenge', async () => {
    const r = await fetchManual(
      authorizeUrl(
        spaParams({
          client_id: CONF,
          redirect_uri: CONF_CB,
          code_challenge: undefined,
          code_challenge_method: undefined,
        }),
      ),
    );
    assert.equal(r.status, 302, r.text);
    assert.ok(isLoginUrl(new URL(r.location!, server.url).href), r.location!);
  });
});

// ---- the flow

describe('the authorization code flow over HTTP', () => {
  test('public client, PKCE S256: sign-in and consent pages, code, tokens, session', async () => {
    const u = await newUser(store, 'Grace Hopper');
    const b = new Browser();
    const { verifier, challenge } = pkce();
    const params = spaParams({ scope: 'iracing.auth iracing.profile' }, challenge);

    const start = await b.open(authorizeUrl(params));
    assert.equal(start.status, 302);
    assert.ok(isLoginUrl(start.location), String(start.location));
    assert.match(start.rawLocation!, /^\/oauth2\/login\?request_id=[A-Za-z0-9_-]+$/);

    const page = await b.open(start.location!);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /(^|; )form-action 'self' https:\/\/app\.example(;|$)/);
    assert.match(page.text, /Lap Timer SPA/);
    const browserCookie = cookieNamed(page.setCookies, 'paddock_browser');
    assert.ok(browserCookie, 'the sign-in page sets the browser cookie');
    assert.match(browserCookie, /;\s*HttpOnly/i);
    assert.match(browserCookie, /;\s*SameSite=Lax/i);
    assert.doesNotMatch(browserCookie, /;\s*Secure/i, 'no Secure on an http issuer');

    const signedInAt = nowS();
    const form = {
      request_id: hidden(page.text, 'request_id'),
      csrf_token: hidden(page.text, 'csrf_token'),
      email: u.username,
      password: u.password,
    };
    assert.equal(form.request_id, new URL(start.location!).searchParams.get('request_id'));
    const signedIn = await b.open(`${server.url}/oauth2/login`, { form });
    assert.equal(signedIn.status, 303, signedIn.text);
    assert.ok(isConsentUrl(signedIn.location), String(signedIn.location));
    const sessionCookie = cookieNamed(signedIn.setCookies, 'paddock_session');
    assert.ok(sessionCookie, 'signing in sets the session cookie');
    assert.match(sessionCookie, /;\s*HttpOnly/i);
    assert.match(sessionCookie, /;\s*SameSite=Lax/i);
    assert.doesNotMatch(sessionCookie, /;\s*Secure/i);

    clock.advance(5);
    const consent = await b.open(signedIn.location!);
    assert.equal(consent.status, 200);
    assert.equal(consent.headers.get('cache-control'), 'no-store');
    assert.equal(consent.headers.get('x-frame-options'), 'DENY');
    assert.match(
      consent.headers.get('content-security-policy') ?? '',
      /form-action 'self' https:\/\/app\.example/,
    );
    assert.match(consent.text, /Authorization for iRacing services\./);
    assert.match(consent.text, /Access to the iRacing profile\./);
    assert.match(consent.text, /Grace Hopper/);
    const allowed = await b.open(`${server.url}/oauth2/consent`, {
      form: {
        request_id: hidden(consent.text, 'request_id'),
        csrf_token: hidden(consent.text, 'csrf_token'),
        decision: 'allow',
      },
    });
    const { code, state } = codeFrom(allowed, SPA_CB, 303);
    assert.equal(state, STATE);

    clock.advance(5);
    const r = await exchange({
      grant_type: 'authorization_code',
      client_id: SPA,
      code,
      redirect_uri: SPA_CB,
      code_verifier: verifier,
    });
    assertTokenResponse(r, { scope: 'iracing.auth iracing.profile' });

    const { payload } = decodeJwt(r.body.access_token);
    assert.equal(payload.auth_time, signedInAt, 'auth_time is the sign-in time');
    assert.equal(payload.iat, signedInAt + 10);
    assert.equal(payload.sub, u.userId);
    assert.equal(payload.client_id, SPA);
    assert.equal(payload.iss, server.issuer);
    assert.equal(payload.scope, 'iracing.auth iracing.profile');
    assert.equal(payload.iracing_cust_id, u.custId);

    const session = await store.getSession(payload.session_id);
    assert.ok(session);
    assert.equal(session.grant_type, 'authorization_code');
    assert.equal(session.auth_time, signedInAt);
    assert.equal(session.first_ip, '127.0.0.1');
    assert.equal(session.first_user_agent, TEST_BROWSER_UA, "the session remembers the user's browser");

    const profile = await get(profileUrl(), { authorization: `Bearer ${r.body.access_token}` });
    assert.equal(profile.status, 200);
    assert.deepEqual(profile.body, { iracing_name: 'Grace Hopper', iracing_cust_id: u.custId });
  });

  test('confidential client with its masked secret and plain PKCE (the default method)', async () => {
    const u = await newUser(store);
    const b = new Browser();
    const verifier = pkce().verifier;
    const { code } = await authorizeToCode(b, u, {
      client_id: CONF,
      redirect_uri: CONF_CB,
      response_type: 'code',
      code_challenge: verifier,
      scope: 'iracing.profile',
      state: 'xyz',
    });
    const r = await exchange({
      grant_type: 'authorization_code',
      client_id: CONF,
      client_secret: confMasked,
      code,
      redirect_uri: CONF_CB,
      code_verifier: verifier,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.scope, 'iracing.profile');
    assert.ok(r.body.refresh_token);
    const profile = await get(profileUrl(), { authorization: `Bearer ${r.body.access_token}` });
    assert.equal(profile.status, 200);
  });

  test('confidential client without PKCE, and with explicit plain', async () => {
    const u = await newUser(store);
    const b = new Browser();
    const base = { client_id: CONF, redirect_uri: CONF_CB, response_type: 'code', scope: 'iracing.profile' };
    const plain = await authorizeToCode(b, u, base);
    const r = await exchange({
      grant_type: 'authorization_code',
      client_id: CONF,
      client_secret: confMasked,
      code: plain.code,
      redirect_uri: CONF_CB,
    });
    assert.equal(r.status, 200, r.text);
    const verifier = pkce().verifier;
    const explicit = await authorizeToCode(b, u, {
      ...base,
      code_challenge: verifier,
      code_challenge_method: 'plain',
    });
    const r2 = await exchange({
      grant_type: 'authorization_code',
      client_id: CONF,
      client_secret: confMasked,
      code: explicit.code,
      redirect_uri: CONF_CB,
      code_verifier: verifier,
    });
    assert.equal(r2.status, 200, r2.text);
  });

  test('a native app on an ephemeral loopback port gets its code there and redeems it', async () => {
    const u = await newUser(store);
    const b = new Browser();
    const { verifier, challenge } = pkce();
    const redirectUri = 'http://127.0.0.1:49152/callback';
    const page = await b.open(authorizeUrl(spaParams({ redirect_uri: redirectUri }, challenge)));
    const login = await b.open(page.location!);
    assert.match(
      login.headers.get('content-security-policy') ?? '',
      /form-action 'self' http:\/\/127\.0\.0\.1:49152/,
    );
    const { result } = await signIn(b, page.location!, u.username, u.password);
    const { result: done } = await decide(b, result.location!, 'allow');
    const { code } = codeFrom(done, redirectUri, 303);
    const r = await exchange({
      grant_type: 'authorization_code',
      client_id: SPA,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    });
    assert.equal(r.status, 200, r.text);
  });

  test('signed in and consented: the next authorization goes straight back with a code', async () => {
    const u = await newUser(store);
    const b = new Browser();
    const signedInAt = nowS();
    const firstPkce = pkce();
    const first = await authorizeToCode(b, u, spaParams({}, firstPkce.challenge));
    const firstTokens = await exchange({
      grant_type: 'authorization_code',
      client_id: SPA,
      code: first.code,
      redirect_uri: SPA_CB,
      code_verifier: firstPkce.verifier,
    });
    assert.equal(decodeJwt(firstTokens.body.access_token).payload.auth_time, signedInAt);

    clock.advance(30);
    const { verifier, challenge } = pkce();
    const again = await b.open(authorizeUrl(spaParams({ state: 'second' }, challenge)));
    const { code, state } = codeFrom(again, SPA_CB, 302);
    assert.equal(state, 'second');
    const r = await exchange({
      grant_type: 'authorization_code',
      client_id: SPA,
      code,
      redirect_uri: SPA_CB,
      code_verifier: verifier,
    });
    assert.equal(r.status, 200, r.text);
    const { payload } = decodeJwt(r.body.access_token);
    assert.equal(payload.iat, signedInAt + 30);
    assert.equal(payload.auth_time, signedInAt, 'auth_time stays the time of the sign-in');
    assert.notEqual(payload.session_id, decodeJwt(firstTokens.body.access_token).payload.session_id);
  });

  test('a scope not consented before asks for consent again; a consented subset does not', async () => {
    const u = await newUser(store);
    const b = new Browser();
    await authorizeToCode(b, u, spaParams({ scope: 'iracing.profile' }));

    const wider = await b.open(authorizeUrl(spaParams({ scope: 'iracing.auth iracing.profile' })));
    assert.equal(wider.status, 302);
    assert.ok(isConsentUrl(wider.location), String(wider.location));
    const { page, result } = await decide(b, wider.location!, 'allow');
    assert.match(page.text, /Authorization for iRacing services\./);
    codeFrom(result, SPA_CB, 303);

    const narrower = await b.open(authorizeUrl(spaParams({ scope: 'iracing.auth' })));
    codeFrom(narrower, SPA_CB, 302);

    // Consent is per client: another client asks again.
    const other = await b.open(
      authorizeUrl(spaParams({ client_id: OTHER, redirect_uri: OTHER_CB, scope: 'iracing.auth' })),
    );
    assert.ok(isConsentUrl(other.location), String(other.location));
  });

  test('prompt=verify shows the sign-in page again even with a session; auth_time is the new sign-in', async () => {
    const u = await newUser(store);
    const b = new Browser();
    await authorizeToCode(b, u, spaParams());
    clock.advance(20);
    const { verifier, challenge } = pkce();
    const page = await b.open(authorizeUrl(spaParams({ prompt: 'verify' }, challenge)));
    assert.equal(page.status, 302);
    assert.ok(isLoginUrl(page.location), String(page.location));

    // The consent page cannot be used to skip the fresh sign-in.
    const requestId = new URL(page.location!).searchParams.get('request_id')!;
    const skip = await b.open(`${server.url}/oauth2/consent?request_id=${requestId}`);
    assert.equal(skip.status, 303);
    assert.ok(isLoginUrl(skip.location), String(skip.location));

    const verifiedAt = nowS();
    const { result } = await signIn(b, page.location!, u.username, u.password);
    const { code } = codeFrom(result, SPA_CB, 303);
    const r = await exchange({
      grant_type: 'authorization_code',
      client_id: SPA,
      code,
      redirect_uri: SPA_CB,
      code_verifier: verifier,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(decodeJwt(r.body.access_token).payload.auth_time, verifiedAt);
  });

  test('a wrong password shows the same form again with "not correct"; then the right one works', async () => {
    const u = await newUser(store);
    const b = new Browser();
    const start = await b.open(authorizeUrl(spaParams()));
    const { page, result } = await signIn(b, start.location!, u.username, 'wrong-password-123');
    assert.equal(result.status, 401);
    assert.match(result.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(result.text, /not correct/);
    assert.equal(hidden(result.text, 'request_id'), hidden(page.text, 'request_id'));
    assert.equal(hidden(result.text, 'csrf_token'), hidden(page.text, 'csrf_token'));
    assert.match(result.text, new RegExp(`name="email"[^>]*value="${u.username.replace('.', '\\.')}"`));
    assert.doesNotMatch(result.text, /wrong-password-123/);
    assert.equal(cookieNamed(result.setCookies, 'paddock_session'), undefined);
    assert.ok(!b.cookies.has('paddock_session'));

    const retry = await b.open(`${server.url}/oauth2/login`, {
      form: {
        request_id: hidden(result.text, 'request_id'),
        csrf_token: hidden(result.text, 'csrf_token'),
        email: u.username.toUpperCase(),
        password: u.password,
      },
    });
    assert.equal(retry.status, 303, retry.text);
    assert.ok(isConsentUrl(retry.location));
  });

  test('5 wrong passwords on the page lock the user out of the page, not out of password_limited', async () => {
    const h = await headless(store);
    const b = new Browser();
    const start = await b.open(authorizeUrl(spaParams()));
    const page = await b.open(start.location!);
    const form = (password: string) => ({
      request_id: hidden(page.text, 'request_id'),
      csrf_token: hidden(page.text, 'csrf_token'),
      email: h.username,
      password,
    });
    for (let i = 1; i <= 5; i++) {
      const r = await b.open(`${server.url}/oauth2/login`, { form: form(`wrong-${i}-password`) });
      assert.equal(r.status, 401, `attempt ${i}`);
      assert.match(r.text, /not correct/);
    }
    const locked = await b.open(`${server.url}/oauth2/login`, { form: form(h.password) });
    assert.equal(locked.status, 429, locked.text);
    assert.match(locked.text, /Too many failed sign-ins/);
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    assert.equal(cookieNamed(locked.setCookies, 'paddock_session'), undefined);

    // The page and password_limited count separately (sign-in.test.ts): the headless client still works.
    const api = await passwordLogin(server, h);
    assert.equal(api.status, 200, api.text);
  });

  test('5 wrong passwords through password_limited lock the grant, not the sign-in page', async () => {
    const h = await headless(store);
    for (let i = 1; i <= 5; i++) {
      const r = await passwordLogin(server, h, { password: mask(`wrong-${i}`, h.username) });
      assert.equal(r.status, 401, `attempt ${i}`);
    }
    const api = await passwordLogin(server, h);
    assert.equal(api.status, 400, api.text);
    assert.equal(api.body.error, 'unauthorized_client');
    assert.match(api.body.error_description, /locked/);
    const b = new Browser();
    const start = await b.open(authorizeUrl(spaParams()));
    const { result } = await signIn(b, start.location!, h.username, h.password);
    assert.equal(result.status, 303, result.text);
    assert.ok(isConsentUrl(result.location), String(result.location));
  });

  test('CSRF: a wrong or missing token, no browser cookie, or a foreign Origin is 403 and signs nobody in', async () => {
    const u = await newUser(store);
    const b = new Browser();
    const start = await b.open(authorizeUrl(spaParams()));
    const page = await b.open(start.location!);
    const good = {
      request_id: hidden(page.text, 'request_id'),
      csrf_token: hidden(page.text, 'csrf_token'),
      email: u.username,
      password: u.password,
    };
    const attempts: [string, () => Promise<Page>][] = [
      [
        'wrong token',
        () => b.open(`${server.url}/oauth2/login`, { form: { ...good, csrf_token: 'x'.repeat(43) } }),
      ],
      [
        'missing token',
        () => {
          const { csrf_token: _, ...rest } = good;
          return b.open(`${server.url}/oauth2/login`, { form: rest });
        },
      ],
      ['no browser cookie', () => new Browser().open(`${server.url}/oauth2/login`, { form: good })],
      [
        'another browser',
        async () => {
          const other = new Browser();
          await other.open(start.location!);
          return other.open(`${server.url}/oauth2/login`, { form: good });
        },
      ],
      [
        'foreign Origin',
        () => b.open(`${server.url}/oauth2/login`, { form: good, origin: 'https://evil.example' }),
      ],
    ];
    for (const [name, attempt] of attempts) {
      const r = await attempt();
      assert.equal(r.status, 403, `${name}: ${r.text}`);
      assert.match(r.text, /invalid_request/, name);
      assert.equal(cookieNamed(r.setCookies, 'paddock_session'), undefined, name);
    }
    assert.ok(!b.cookies.has('paddock_session'));
    // The request is still usable by the real browser and form.
    const ok = await b.open(`${server.url}/oauth2/login`, { form: good });
    assert.equal(ok.status, 303, ok.text);
    assert.ok(cookieNamed(ok.setCookies, 'paddock_session'));

    // The consent form is protected the same way.
    const consent = await b.open(ok.location!);
    const decision = {
      request_id: hidden(consent.text, 'request_id'),
      csrf_token: hidden(consent.text, 'csrf_token'),
      decision: 'allow',
    };
    const forged = await b.open(`${server.url}/oauth2/consent`, {
      form: decision,
      origin: 'https://evil.example',
    });
    assert.equal(forged.status, 403);
    const badToken = await b.open(`${server.url}/oauth2/consent`, {
      form: { ...decision, csrf_token: 'y'.repeat(43) },
    });
    assert.equal(badToken.status, 403);
    codeFrom(await b.open(`${server.url}/oauth2/consent`, { form: decision }), SPA_CB, 303);
  });

  test('deny: 303 to the redirect URI with access_denied and the state; the request is over', async () => {
    const u = await newUser(store);
    const b = new Browser();
    const start = await b.open(authorizeUrl(spaParams({ redirect_uri: SPA_FLOW_ONE })));
    const { result } = await signIn(b, start.location!, u.username, u.password);
    const { page, result: denied } = await decide(b, result.location!, 'deny');
    assert.equal(denied.status, 303);
    assert.ok(denied.rawLocation?.startsWith(`${SPA_FLOW_ONE}&`), String(denied.rawLocation));
    const params = new URL(denied.rawLocation!).searchParams;
    assert.equal(params.get('error'), 'access_denied');
    assert.ok(params.get('error_description'));
    assert.equal(params.get('error_uri'), `${server.issuer}/oauth2/book/error_access_denied.html`);
    assert.equal(params.get('state'), STATE);
    assert.equal(params.get('code'), null);

    const late = await b.open(`${server.url}/oauth2/consent`, {
      form: {
        request_id: hidden(page.text, 'request_id'),
        csrf_token: hidden(page.text, 'csrf_token'),
        decision: 'allow',
      },
    });
    assert.equal(late.status, 400, 'a denied request cannot be allowed afterwards');
    assert.equal(late.rawLocation, null);
  });

  test('codes are single use and live 60 s', async () => {
    const u = await newUser(store);
    const b = new Browser();
    const { verifier, challenge } = pkce();
    const { code } = await authorizeToCode(b, u, spaParams({}, challenge));
    clock.advance(59);
    const form = {
      grant_type: 'authorization_code',
      client_id: SPA,
      code,
      redirect_uri: SPA_CB,
      code_verifier: verifier,
    };
    assert.equal((await exchange(form)).status, 200);
    await assertError(await exchange(form), 400, 'invalid_grant', /already used/);

    const second = pkce();
    const late = await b.open(authorizeUrl(spaParams({}, second.challenge)));
    const { code: lateCode } = codeFrom(late, SPA_CB, 302);
    clock.advance(61);
    await assertError(
      await exchange({ ...form, code: lateCode, code_verifier: second.verifier }),
      400,
      'invalid_grant',
      /expired/,
    );
  });
});

// ---- /token authorization_code errors

describe('/token authorization_code errors', () => {
  let u: TestUser;
  const b = new Browser();
  before(async () => {
    u = await newUser(store);
  });

  const spaCode = async (challenge: string | null = null) => {
    const p = pkce();
    const params = spaParams({}, challenge ?? p.challenge);
    const { code } = await authorizeToCode(b, u, params);
    return { code, verifier: p.verifier };
  };
  const spaForm = (code: string, verifier: string, over: Record<string, string | undefined> = {}) => {
    const f: Record<string, string> = {};
    for (const [k, v] of Object.entries({
      grant_type: 'authorization_code',
      client_id: SPA,
      code,
      redirect_uri: SPA_CB,
      code_verifier: verifier,
      ...over,
    }))
      if (v !== undefined) f[k] = v;
    return f;
  };

  test('a wrong code_verifier: 400 invalid_grant', async () => {
    const { code, verifier } = await spaCode();
    await assertError(
      await exchange(spaForm(code, verifier, { code_verifier: pkce().verifier })),
      400,
      'invalid_grant',
      /PKCE|code_verifier/,
    );
  });

  test('a malformed code_verifier (too short): 400 invalid_grant', async () => {
    const { code, verifier } = await spaCode();
    await assertError(
      await exchange(spaForm(code, verifier, { code_verifier: verifier.slice(0, 42) })),
      400,
      'invalid_grant',
    );
  });

  test('no code_verifier when a challenge was sent: 400 invalid_grant', async () => {
    const { code, verifier } = await spaCode();
    await assertError(
      await exchange(spaForm(code, verifier, { code_verifier: undefined })),
      400,
      'invalid_grant',
      /code_verifier missing/,
    );
  });

  test('a code_verifier without a challenge: 400 invalid_grant', async () => {
    const { code } = await authorizeToCode(b, u, {
      client_id: CONF,
      redirect_uri: CONF_CB,
      response_type: 'code',
      state: 's',
    });
    await assertError(
      await exchange({
        grant_type: 'authorization_code',
        client_id: CONF,
        client_secret: confMasked,
        code,
        redirect_uri: CONF_CB,
        code_verifier: pkce().verifier,
      }),
      400,
      'invalid_grant',
      /code_challenge/,
    );
  });

  test('a different redirect_uri: 403 invalid_client, and the code is spent', async () => {
    for (const uri of [SPA_FLOW_ONE, `${SPA_CB}/`, 'https://app.example:443/cb']) {
      const { code, verifier } = await spaCode();
      await assertError(
        await exchange(spaForm(code, verifier, { redirect_uri: uri })),
        403,
        'invalid_client',
        /redirect_uri/,
      );
      await assertError(await exchange(spaForm(code, verifier)), 400, 'invalid_grant', /already used/);
    }
  });

  test('no redirect_uri: 400 invalid_request, and the code stays usable', async () => {
    const { code, verifier } = await spaCode();
    await assertError(
      await exchange(spaForm(code, verifier, { redirect_uri: undefined })),
      400,
      'invalid_request',
      /redirect_uri missing/,
    );
    const ok = await exchange(spaForm(code, verifier));
    assert.equal(ok.status, 200, ok.text);
  });

  test('a reused code: 400 invalid_grant, and the tokens issued from it are revoked', async () => {
    const { code, verifier } = await spaCode();
    const first = await exchange(spaForm(code, verifier));
    assert.equal(first.status, 200);
    assert.equal(
      (await get(profileUrl(), { authorization: `Bearer ${first.body.access_token}` })).status,
      200,
    );
    await assertError(await exchange(spaForm(code, verifier)), 400, 'invalid_grant', /already used/);
    await assertError(
      await exchange({
        grant_type: 'refresh_token',
        client_id: SPA,
        refresh_token: first.body.refresh_token,
      }),
      400,
      'invalid_grant',
    );
    await assertError(
      await get(profileUrl(), { authorization: `Bearer ${first.body.access_token}` }),
      401,
      'invalid_token',
    );
  });

  test("client B cannot use client A's code (400 invalid_grant); A still can", async () => {
    const { code, verifier } = await spaCode();
    await assertError(
      await exchange(spaForm(code, verifier, { client_id: OTHER })),
      400,
      'invalid_grant',
      /not issued to this client/,
    );
    await assertError(
      await exchange(spaForm(code, verifier, { client_id: OTHER, redirect_uri: OTHER_CB })),
      400,
      'invalid_grant',
    );
    const ok = await exchange(spaForm(code, verifier));
    assert.equal(ok.status, 200, ok.text);
  });

  test("a confidential client's code with a wrong or missing secret: 403 invalid_client, code still usable", async () => {
    const { code } = await authorizeToCode(b, u, {
      client_id: CONF,
      redirect_uri: CONF_CB,
      response_type: 'code',
    });
    const form = { grant_type: 'authorization_code', client_id: CONF, code, redirect_uri: CONF_CB };
    await assertError(
      await exchange({ ...form, client_secret: mask('wrong', CONF) }),
      403,
      'invalid_client',
      /not correct/,
    );
    await assertError(await exchange(form), 403, 'invalid_client', /client_secret missing/);
    await assertError(
      await exchange({ ...form, client_secret: confSecret }),
      403,
      'invalid_client',
      /masked/,
    );
    assert.equal((await exchange({ ...form, client_secret: confMasked })).status, 200);
  });

  test('an unknown or missing code: 400', async () => {
    await assertError(
      await exchange(spaForm('not-a-code-at-all', pkce().verifier)),
      400,
      'invalid_grant',
      /not valid/,
    );
    await assertError(
      await exchange(spaForm('', pkce().verifier, { code: undefined })),
      400,
      'invalid_request',
      /code missing/,
    );
  });

  test('a client without the authorization_code grant: 401 unauthorized_client', async () => {
    const h = await headless(store);
    await assertError(
      await exchange({
        grant_type: 'authorization_code',
        client_id: h.clientId,
        client_secret: h.maskedSecret,
        code: 'whatever-code-value',
        redirect_uri: SPA_CB,
      }),
      401,
      'unauthorized_client',
    );
  });
});

// ---- CORS

describe('CORS', () => {
  const corsClock = new TestClock();
  let s: TestServer;
  let token: string;
  const SPA_ORIGIN = 'http://127.0.0.1:5555';

  before(async () => {
    s = await startInProcess({ clock: corsClock, name: 'authorize-cors' });
    const st = s.ctx!.store;
    await newClient(st, {
      client_id: 'cors-spa',
      client_name: 'SPA',
      client_type: 'public',
      redirect_uris: [`${SPA_ORIGIN}/callback`, 'https://spa.example/cb'],
      allow_http: true,
    });
    await newClient(st, {
      client_id: 'cors-conf',
      client_name: 'Confidential',
      redirect_uris: ['https://conf.example/cb'],
    });
    const h = await headless(st);
    const r = await passwordLogin(s, h, { scope: 'iracing.profile' });
    assert.equal(r.status, 200, r.text);
    token = r.body.access_token;
  });
  after(() => s.stop());

  const preflight = (path: string, origin: string) =>
    fetch(`${s.url}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });

  test("preflight for /oauth2/token from a public client's redirect origin: 204, allowed", async () => {
    const r = await preflight('/oauth2/token', SPA_ORIGIN);
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), SPA_ORIGIN);
    assert.match(r.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(r.headers.get('access-control-allow-headers') ?? '', /content-type/i);
    assert.match(r.headers.get('vary') ?? '', /origin/i);
    const https = await preflight('/oauth2/token', 'https://spa.example');
    assert.equal(https.headers.get('access-control-allow-origin'), 'https://spa.example');
  });

  test('other origins get no allow-origin header', async () => {
    for (const origin of [
      'https://evil.example',
      'http://127.0.0.1:5556',
      'http://localhost:5555',
      'https://conf.example',
      'null',
    ]) {
      const r = await preflight('/oauth2/token', origin);
      assert.equal(r.headers.get('access-control-allow-origin'), null, origin);
      const g = await fetch(`${s.url}/.well-known/jwks.json`, { headers: { origin } });
      assert.equal(g.headers.get('access-control-allow-origin'), null, origin);
    }
  });

  test('JWKS, /iracing/profile and /token answers carry the header and expose x-request-id', async () => {
    const jwks = await fetch(`${s.url}/.well-known/jwks.json`, { headers: { origin: SPA_ORIGIN } });
    assert.equal(jwks.status, 200);
    assert.equal(jwks.headers.get('access-control-allow-origin'), SPA_ORIGIN);
    assert.match(jwks.headers.get('access-control-expose-headers') ?? '', /x-request-id/i);

    const profile = await fetch(`${s.url}/oauth2/iracing/profile`, {
      headers: { origin: SPA_ORIGIN, authorization: `Bearer ${token}` },
    });
    assert.equal(profile.status, 200);
    assert.equal(profile.headers.get('access-control-allow-origin'), SPA_ORIGIN);
    assert.match(profile.headers.get('access-control-expose-headers') ?? '', /x-request-id/i);

    // Errors too, so that a browser app can read them.
    const denied = await fetch(`${s.url}/oauth2/iracing/profile`, { headers: { origin: SPA_ORIGIN } });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('access-control-allow-origin'), SPA_ORIGIN);
    assert.match(denied.headers.get('access-control-expose-headers') ?? '', /www-authenticate/i);
    const tokenError = await fetch(`${s.url}/oauth2/token`, {
      method: 'POST',
      headers: { origin: SPA_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&client_id=cors-spa',
    });
    assert.equal(tokenError.status, 400);
    assert.equal(tokenError.headers.get('access-control-allow-origin'), SPA_ORIGIN);
  });

  test('/oauth2/authorize never carries CORS headers', async () => {
    const q = new URLSearchParams({
      client_id: 'cors-spa',
      redirect_uri: `${SPA_ORIGIN}/callback`,
      response_type: 'code',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    });
    const g = await fetch(`${s.url}/oauth2/authorize?${q}`, {
      headers: { origin: SPA_ORIGIN },
      redirect: 'manual',
    });
    assert.equal(g.status, 302);
    assert.equal(g.headers.get('access-control-allow-origin'), null);
    const bad = await fetch(`${s.url}/oauth2/authorize`, { headers: { origin: SPA_ORIGIN } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('access-control-allow-origin'), null);
    const o = await preflight(`/oauth2/authorize?${q}`, SPA_ORIGIN);
    // @fastify/cors registers its OPTIONS * preflight route globally (routes are not encapsulated):
    // the server must still refuse CORS to a preflight of /oauth2/authorize (and of any non-API path)
    // from an allowed origin.
    assert.equal(o.headers.get('access-control-allow-origin'), null);
  });

  test('a loopback :0 registration admits 127.0.0.1 on any port (after the origin list refreshes)', async () => {
    await newClient(s.ctx!.store, {
      client_id: 'cors-native',
      client_name: 'Native',
      client_type: 'public',
      redirect_uris: ['http://127.0.0.1:0/callback'],
    });
    corsClock.advance(6);
    for (const port of [5556, 49152, 1]) {
      const origin = `http://127.0.0.1:${port}`;
      const r = await preflight('/oauth2/token', origin);
      assert.equal(r.status, 204);
      assert.equal(r.headers.get('access-control-allow-origin'), origin);
    }
    for (const origin of ['http://localhost:49152', 'http://[::1]:49152', 'https://127.0.0.1:49152']) {
      const r = await preflight('/oauth2/token', origin);
      assert.equal(r.headers.get('access-control-allow-origin'), null, origin);
    }
  });
});

// ---- discovery

describe('discovery', () => {
  test('/.well-known/oauth-authorization-server describes endpoints that answer', async () => {
    const r = await get(`${server.url}/.well-known/oauth-authorization-server`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    const m = r.body;
    assert.equal(m.issuer, server.issuer);
    assert.equal(m.authorization_endpoint, `${server.issuer}/oauth2/authorize`);
    assert.equal(m.token_endpoint, `${server.issuer}/oauth2/token`);
    assert.equal(m.jwks_uri, `${server.issuer}/.well-known/jwks.json`);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256', 'plain']);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.deepEqual([...m.scopes_supported].sort(), ['iracing.auth', 'iracing.profile']);
    for (const g of ['authorization_code', 'refresh_token', 'password_limited'])
      assert.ok(m.grant_types_supported.includes(g), g);
    assert.ok(m.token_endpoint_auth_methods_supported.includes('none'));
    assert.ok(m.token_endpoint_auth_methods_supported.includes('client_secret_post'));

    // The authorization endpoint answers (without parameters: the book's JSON error, not a 404).
    const a = await fetchManual(m.authorization_endpoint);
    await assertError(a, 400, 'invalid_request', /client_id missing/);
    // The token endpoint answers POST.
    await assertError(await post(m.token_endpoint, {}), 400, 'invalid_request', /grant_type missing/);
    const jwks = await get(m.jwks_uri);
    assert.equal(jwks.status, 200);
    assert.ok(jwks.body.keys.length >= 1);
    if (m.service_documentation) assert.equal((await fetch(m.service_documentation)).status, 200);
  });
});
