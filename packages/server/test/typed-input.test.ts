// The browser routes' input, as the book's error rules want it: a repeated or missing parameter, a missing
// form body or an overlong value is the book's invalid_request (an HTML page for a browser), never a 500,
// and changes nothing; an unauthenticated /authorize cannot write unbounded rows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertBookError } from './assertions.ts';
import { authorizeUrl, isLoginUrl, newClient, newUser, openSignIn } from './flow.ts';
import { startInProcess, TestClock, type TestServer } from './helpers.ts';
import { Browser } from './http-browser.ts';

const CB = 'https://app.example/cb';
const HTML = { accept: 'text/html,application/xhtml+xml' };

let server: TestServer;
let clientId: string;
const clock = new TestClock();

before(async () => {
  server = await startInProcess({
    clock,
    name: 'typed-input',
    env: { PADDOCK_AUTHORIZE_IP_LIMIT: '40', PADDOCK_SIGN_IN_WINDOW: '300' },
  });
  clientId = (await newClient(server.ctx!.store, { redirect_uris: [CB] })).clientId;
});
after(() => server.stop());

async function rows(): Promise<number> {
  const [r] = await server.ctx!.store.db.all<{ n: number }>(
    'SELECT COUNT(*) AS n FROM authorization_requests',
  );
  return Number(r!.n);
}

const authorizePath = (params: Record<string, string | undefined>) =>
  authorizeUrl(server, params).slice(server.url.length);

async function send(
  method: string,
  path: string,
  init: { body?: string; headers?: Record<string, string> } = {},
) {
  const r = await fetch(`${server.url}${path}`, { method, redirect: 'manual', ...init });
  const text = await r.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, text, body, location: r.headers.get('location') };
}

/** A pending sign-in request of a fresh browser: its request_id and CSRF token. */
async function pending() {
  const b = new Browser();
  const start = await b.open(authorizeUrl(server, { client_id: clientId, redirect_uri: CB }));
  assert.ok(isLoginUrl(server, start.location), String(start.rawLocation));
  const user = await newUser(server.ctx!.store);
  const { form } = await openSignIn(b, start.location!, user);
  return { b, form, user };
}

describe('repeated query parameters on the pages: invalid_request naming the parameter', () => {
  for (const page of ['login', 'consent']) {
    test(`GET /oauth2/${page}?request_id=a&request_id=b: 400, JSON or a page, never a 500`, async () => {
      const path = `/oauth2/${page}?request_id=a&request_id=b`;
      await assertBookError(
        server.issuer,
        await send('GET', path),
        400,
        'invalid_request',
        /request_id.*repeated/,
      );
      const html = await send('GET', path, { headers: HTML });
      assert.equal(html.status, 400);
      assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(html.text, /invalid_request/);
      assert.match(html.text, /request_id/);
    });
  }

  test('GET /oauth2/login without a request_id: 400 invalid_request', async () => {
    await assertBookError(server.issuer, await send('GET', '/oauth2/login'), 400, 'invalid_request');
  });
});

describe('form posts on the pages', () => {
  for (const page of ['login', 'consent']) {
    test(`POST /oauth2/${page} with no body: 400 invalid_request, never a 500`, async () => {
      await assertBookError(
        server.issuer,
        await send('POST', `/oauth2/${page}`),
        400,
        'invalid_request',
        /form/,
      );
      const html = await send('POST', `/oauth2/${page}`, { headers: HTML });
      assert.equal(html.status, 400);
      assert.match(html.text, /invalid_request/);
    });

    test(`POST /oauth2/${page} with a JSON body: 400 invalid_request`, async () => {
      const r = await send('POST', `/oauth2/${page}`, {
        body: '{"request_id":["a","b"]}',
        headers: { 'content-type': 'application/json' },
      });
      await assertBookError(server.issuer, r, 400, 'invalid_request');
    });

    test(`POST /oauth2/${page} with a repeated field: 400 invalid_request naming it`, async () => {
      const r = await send('POST', `/oauth2/${page}`, {
        body: 'request_id=a&request_id=b',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      await assertBookError(server.issuer, r, 400, 'invalid_request', /request_id.*repeated/);
    });
  }
});

describe('free text is capped', () => {
  test('state: up to 1 KiB is returned unmodified; longer is invalid_request without the state, and no row', async () => {
    const ok = await send(
      'GET',
      authorizePath({ client_id: clientId, redirect_uri: CB, state: 'é'.repeat(512) }),
    );
    assert.equal(ok.status, 302);
    assert.ok(isLoginUrl(server, new URL(ok.location!, server.url).href), String(ok.location));

    const before = await rows();
    const long = await send(
      'GET',
      authorizePath({ client_id: clientId, redirect_uri: CB, state: `${'é'.repeat(512)}x` }),
    );
    assert.equal(long.status, 302);
    assert.ok(long.location?.startsWith(`${CB}?`), String(long.location));
    const params = new URL(long.location!).searchParams;
    assert.equal(params.get('error'), 'invalid_request');
    assert.match(params.get('error_description') ?? '', /state.*1024/);
    assert.equal(params.get('state'), null);
    assert.equal(await rows(), before, 'no pending request was written');
  });

  const cases: [string, string, RegExp][] = [
    ['request_id', 'r'.repeat(65), /request_id/],
    ['csrf_token', 'c'.repeat(129), /csrf_token/],
    ['email', `${'e'.repeat(320)}@example.com`, /email/],
    ['password', 'p'.repeat(1025), /password/],
  ];
  for (const [name, value, why] of cases) {
    test(`POST /oauth2/login with an overlong ${name}: 400 invalid_request naming it, nobody signed in`, async () => {
      const { b, form } = await pending();
      const r = await b.open(`${server.url}/oauth2/login`, { form: { ...form, [name]: value } });
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, /invalid_request/);
      assert.match(r.text, why);
      assert.match(r.text, /too long/);
      assert.ok(!b.cookies.has('paddock_session'));
    });
  }

  test('GET /oauth2/login with an overlong request_id: 400 invalid_request naming it', async () => {
    await assertBookError(
      server.issuer,
      await send('GET', `/oauth2/login?request_id=${'r'.repeat(65)}`),
      400,
      'invalid_request',
      /request_id.*too long/,
    );
  });
});

describe('/authorize cannot write unbounded rows', () => {
  test('an invalid request writes no row', async () => {
    const before = await rows();
    for (const params of [
      { client_id: clientId, redirect_uri: CB, scope: 'iracing.admin' },
      { client_id: clientId, redirect_uri: CB, response_type: 'token' },
      { client_id: clientId, redirect_uri: 'https://evil.example/cb' },
      { client_id: 'nobody', redirect_uri: CB },
    ]) {
      const r = await send('GET', authorizePath(params));
      assert.ok(!isLoginUrl(server, r.location ? new URL(r.location, server.url).href : undefined));
    }
    assert.equal(await rows(), before);
  });

  test('pending requests are rate-limited per IP: past the limit, temporarily_unavailable to the app and no row', async () => {
    clock.advance(301);
    let admitted = 0;
    let refused: Awaited<ReturnType<typeof send>> | undefined;
    for (let i = 0; i < 45 && !refused; i++) {
      const r = await send('GET', authorizePath({ client_id: clientId, redirect_uri: CB, state: `s${i}` }));
      assert.equal(r.status, 302);
      if (isLoginUrl(server, new URL(r.location!, server.url).href)) admitted++;
      else refused = r;
    }
    assert.equal(admitted, 40);
    assert.ok(refused, 'the 41st request was refused');
    const params = new URL(refused.location!).searchParams;
    assert.ok(refused.location!.startsWith(`${CB}?`));
    assert.equal(params.get('error'), 'temporarily_unavailable');
    assert.equal(params.get('state'), 's40');
    const before = await rows();
    await send('GET', authorizePath({ client_id: clientId, redirect_uri: CB }));
    assert.equal(await rows(), before, 'a refused request writes no row');
    clock.advance(301);
    const later = await send('GET', authorizePath({ client_id: clientId, redirect_uri: CB }));
    assert.ok(
      isLoginUrl(server, new URL(later.location!, server.url).href),
      'admitted again after the window',
    );
  });
});
