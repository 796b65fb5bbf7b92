// OAuthClient against a real Paddock server (in-process, SQLite): every grant, the profile, Session
// Management, and the shape of every kind of failure.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  codeChallengeS256,
  generateCodeVerifier,
  generateState,
  mask,
  OAuthClient,
  OAuthError,
  parseCallback,
} from '../src/index.ts';
import {
  authorizeInBrowser,
  headlessSetup,
  newClient,
  newUser,
  recordingFetch,
  startInProcess,
  type TestServer,
  type TestUser,
} from './harness.ts';

let server: TestServer;
before(async () => {
  server = await startInProcess({ name: 'sdk-client', env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '1000' } });
});
after(() => server.stop());

/** Runs `fn` and returns the OAuthError it throws, failing if it throws anything else or nothing. */
async function oauthError(fn: () => Promise<unknown>): Promise<OAuthError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof OAuthError, `an OAuthError, not ${err}`);
    return err;
  }
  assert.fail('expected an OAuthError');
}

/** The book's error object, as the SDK exposes it. */
function assertServerError(e: OAuthError, error: string, status: number) {
  assert.equal(e.error, error, e.message);
  assert.equal(e.status, status);
  assert.ok(e.description && e.description.length > 0, 'a description');
  assert.equal(e.uri, `${server.issuer}/oauth2/book/error_${error}.html`);
  assert.match(e.requestId ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(e.message, `${error}: ${e.description}`);
}

async function headlessClient(scope = 'iracing.profile') {
  const setup = await headlessSetup(server.ctx!.store);
  const rec = recordingFetch();
  const client = new OAuthClient({
    issuer: server.url,
    clientId: setup.clientId,
    clientSecret: setup.secret,
    fetch: rec.fetch,
  });
  const login = () =>
    client.passwordLimited({ username: setup.user.username, password: setup.user.password, scope });
  return { ...setup, client, rec, login };
}

describe('password_limited, refresh, profile', () => {
  test('passwordLimited: tokens in the book shape; the secret and password are sent masked', async () => {
    const h = await headlessClient();
    const t = await h.login();
    assert.deepEqual(Object.keys(t).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'refresh_token_expires_in',
      'scope',
      'token_type',
    ]);
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.expires_in, 600);
    assert.equal(t.refresh_token_expires_in, 604800);
    assert.equal(t.scope, 'iracing.profile');
    assert.equal(t.access_token.split('.').length, 3);

    const call = h.rec.calls.at(-1)!;
    assert.equal(call.method, 'POST');
    assert.equal(call.url, `${server.url}/oauth2/token`);
    assert.equal(call.headers.get('content-type'), 'application/x-www-form-urlencoded');
    assert.equal(call.form.get('grant_type'), 'password_limited');
    assert.equal(call.form.get('client_id'), h.clientId);
    assert.equal(call.form.get('client_secret'), await mask(h.secret, h.clientId));
    assert.equal(call.form.get('username'), h.user.username);
    assert.equal(call.form.get('password'), await mask(h.user.password, h.user.username));
    assert.equal(call.form.get('scope'), 'iracing.profile');
    const sent = call.form.toString();
    assert.ok(!sent.includes(encodeURIComponent(h.secret)) && !sent.includes(h.secret), 'no plain secret');
    assert.ok(!sent.includes(encodeURIComponent(h.user.password)), 'no plain password');
  });

  test('the client secret is not visible on the client object', async () => {
    const h = await headlessClient();
    assert.ok(!JSON.stringify(h.client).includes(h.secret));
    assert.ok(!inspect(h.client, { depth: 5, showHidden: true }).includes(h.secret));
  });

  test('refresh: new tokens; the spent refresh token is refused with invalid_grant', async () => {
    const h = await headlessClient();
    const first = await h.login();
    const second = await h.client.refresh(first.refresh_token!);
    assert.notEqual(second.access_token, first.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(second.scope, 'iracing.profile');
    const call = h.rec.calls.at(-1)!;
    assert.equal(call.form.get('grant_type'), 'refresh_token');
    assert.equal(call.form.get('refresh_token'), first.refresh_token);
    assert.equal(call.form.get('client_secret'), await mask(h.secret, h.clientId));
    assertServerError(await oauthError(() => h.client.refresh(first.refresh_token!)), 'invalid_grant', 400);
    assertServerError(await oauthError(() => h.client.refresh('not-a-refresh-token')), 'invalid_grant', 400);
  });

  test('profile: the iRacing name and customer id', async () => {
    const h = await headlessClient();
    const t = await h.login();
    assert.deepEqual(await h.client.profile(t.access_token), {
      iracing_name: h.user.name,
      iracing_cust_id: h.user.custId,
    });
    const call = h.rec.calls.at(-1)!;
    assert.equal(call.method, 'GET');
    assert.equal(call.url, `${server.url}/oauth2/iracing/profile`);
    assert.equal(call.headers.get('authorization'), `Bearer ${t.access_token}`);
  });

  test('an issuer with a trailing slash works the same', async () => {
    const h = await headlessSetup(server.ctx!.store);
    const client = new OAuthClient({
      issuer: `${server.url}/`,
      clientId: h.clientId,
      clientSecret: h.secret,
    });
    const t = await client.passwordLimited({ username: h.user.username, password: h.user.password });
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.scope, undefined, 'no scope asked, none granted: the field is absent');
  });
});

describe('the authorization code flow', () => {
  const REDIRECT = 'https://app.example/cb';
  let user: TestUser;
  before(async () => {
    user = await newUser(server.ctx!.store, 'Ada Lovelace');
  });

  test('public client with PKCE: authorizeUrl, the pages, parseCallback, exchangeCode, profile', async () => {
    const { clientId } = await newClient(server.ctx!.store, {
      client_type: 'public',
      redirect_uris: [REDIRECT],
    });
    const client = new OAuthClient({ issuer: server.url, clientId });
    const verifier = generateCodeVerifier();
    const state = generateState();
    const url = client.authorizeUrl({
      redirectUri: REDIRECT,
      scope: ['iracing.auth', 'iracing.profile'],
      state,
      codeChallenge: await codeChallengeS256(verifier),
    });
    const landed = await authorizeInBrowser(server, url, user);
    assert.ok(landed.startsWith(`${REDIRECT}?`), landed);
    const { code } = parseCallback(landed, state);
    const t = await client.exchangeCode({ code, redirectUri: REDIRECT, codeVerifier: verifier });
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.scope, 'iracing.auth iracing.profile');
    assert.ok(t.refresh_token);
    assert.deepEqual(await client.profile(t.access_token), {
      iracing_name: 'Ada Lovelace',
      iracing_cust_id: user.custId,
    });
    // The code is single use.
    assertServerError(
      await oauthError(() => client.exchangeCode({ code, redirectUri: REDIRECT, codeVerifier: verifier })),
      'invalid_grant',
      400,
    );
  });

  test('a wrong code verifier is invalid_grant', async () => {
    const { clientId } = await newClient(server.ctx!.store, {
      client_type: 'public',
      redirect_uris: [REDIRECT],
    });
    const client = new OAuthClient({ issuer: server.url, clientId });
    const state = generateState();
    const url = client.authorizeUrl({
      redirectUri: REDIRECT,
      state,
      codeChallenge: await codeChallengeS256(generateCodeVerifier()),
    });
    const { code } = parseCallback(await authorizeInBrowser(server, url, user), state);
    const e = await oauthError(() =>
      client.exchangeCode({ code, redirectUri: REDIRECT, codeVerifier: generateCodeVerifier() }),
    );
    assertServerError(e, 'invalid_grant', 400);
  });

  test('confidential client: the masked secret goes with the code', async () => {
    const { clientId, secret } = await newClient(server.ctx!.store, {
      redirect_uris: ['https://conf.example/cb'],
    });
    const rec = recordingFetch();
    const client = new OAuthClient({ issuer: server.url, clientId, clientSecret: secret, fetch: rec.fetch });
    const verifier = generateCodeVerifier(64);
    const state = generateState();
    const url = client.authorizeUrl({
      redirectUri: 'https://conf.example/cb',
      scope: 'iracing.profile',
      state,
      codeChallenge: await codeChallengeS256(verifier),
    });
    const { code } = parseCallback(await authorizeInBrowser(server, url, user), state);
    const t = await client.exchangeCode({
      code,
      redirectUri: 'https://conf.example/cb',
      codeVerifier: verifier,
    });
    assert.equal(t.scope, 'iracing.profile');
    const form = rec.calls.at(-1)!.form;
    assert.equal(form.get('grant_type'), 'authorization_code');
    assert.equal(form.get('code'), code);
    assert.equal(form.get('redirect_uri'), 'https://conf.example/cb');
    assert.equal(form.get('code_verifier'), verifier);
    assert.equal(form.get('client_secret'), await mask(secret!, clientId));
  });

  test('a denied consent comes back as an OAuthError access_denied from parseCallback', async () => {
    const { clientId } = await newClient(server.ctx!.store, {
      client_type: 'public',
      redirect_uris: [REDIRECT],
    });
    const client = new OAuthClient({ issuer: server.url, clientId });
    const state = generateState();
    const url = client.authorizeUrl({
      redirectUri: REDIRECT,
      scope: 'iracing.profile',
      state,
      codeChallenge: await codeChallengeS256(generateCodeVerifier()),
    });
    const landed = await authorizeInBrowser(server, url, user, { decision: 'deny' });
    assert.throws(
      () => parseCallback(landed, state),
      (e: unknown) =>
        e instanceof OAuthError &&
        e.error === 'access_denied' &&
        !!e.description &&
        e.uri === `${server.issuer}/oauth2/book/error_access_denied.html`,
    );
  });
});

describe('failures are OAuthErrors with the book error object, request id and headers', () => {
  test('a wrong client secret: invalid_client, 403', async () => {
    const h = await headlessSetup(server.ctx!.store);
    const client = new OAuthClient({
      issuer: server.url,
      clientId: h.clientId,
      clientSecret: `${h.secret}x`,
    });
    const e = await oauthError(() =>
      client.passwordLimited({ username: h.user.username, password: h.user.password }),
    );
    assertServerError(e, 'invalid_client', 403);
  });

  test('a wrong password: access_denied, 401', async () => {
    const h = await headlessSetup(server.ctx!.store);
    const client = new OAuthClient({ issuer: server.url, clientId: h.clientId, clientSecret: h.secret });
    const e = await oauthError(() =>
      client.passwordLimited({ username: h.user.username, password: 'wrong' }),
    );
    assertServerError(e, 'access_denied', 401);
  });

  test('profile with a bad token: invalid_token, 401; without the scope: insufficient_scope, 403', async () => {
    const h = await headlessClient('iracing.auth');
    assertServerError(await oauthError(() => h.client.profile('not.a.token')), 'invalid_token', 401);
    const t = await h.login();
    assertServerError(await oauthError(() => h.client.profile(t.access_token)), 'insufficient_scope', 403);
  });

  test('an unknown scope: invalid_scope, 400', async () => {
    const h = await headlessClient('iracing.everything');
    assertServerError(await oauthError(() => h.login()), 'invalid_scope', 400);
  });

  test('the password_limited rate limit: retryAfter and rateLimit are filled in', async () => {
    const limited = await startInProcess({
      name: 'sdk-ratelimit',
      env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '2' },
    });
    try {
      const h = await headlessSetup(limited.ctx!.store);
      const client = new OAuthClient({ issuer: limited.url, clientId: h.clientId, clientSecret: h.secret });
      const login = () => client.passwordLimited({ username: h.user.username, password: h.user.password });
      await login();
      await login();
      const e = await oauthError(login);
      assert.equal(e.error, 'unauthorized_client');
      assert.equal(e.status, 400);
      assert.match(e.description ?? '', /rate limit/);
      assert.equal(e.uri, `${limited.issuer}/oauth2/book/error_unauthorized_client.html`);
      assert.match(e.requestId ?? '', /^[0-9a-f-]{36}$/);
      assert.ok(e.retryAfter !== undefined && e.retryAfter > 0 && e.retryAfter <= 900, `${e.retryAfter}`);
      assert.ok(e.rateLimit, 'rateLimit');
      assert.equal(e.rateLimit.limit, 2);
      assert.equal(e.rateLimit.remaining, 0);
      assert.ok(e.rateLimit.reset > 0 && e.rateLimit.reset <= 900);
    } finally {
      await limited.stop();
    }
  });

  test('no server: network_error, without a status', async () => {
    const client = new OAuthClient({ issuer: 'http://127.0.0.1:9', clientId: 'c', clientSecret: 's' });
    const e = await oauthError(() => client.refresh('r'));
    assert.equal(e.error, 'network_error');
    assert.equal(e.status, undefined);
    assert.ok(e.cause, 'the underlying error is kept as the cause');
    assert.match(e.description ?? '', /127\.0\.0\.1:9\/oauth2\/token/);
    assert.ok(!e.message.includes('r&') && !e.message.includes('client_secret'));
  });

  const fake =
    (res: () => Response): typeof fetch =>
    async () =>
      res();
  const clientWith = (res: () => Response) =>
    new OAuthClient({ issuer: 'https://auth.example', clientId: 'c', fetch: fake(res) });

  test('an answer that is not JSON: server_error with the status and request id', async () => {
    const client = clientWith(
      () =>
        new Response('<html><body>502 Bad Gateway</body></html>', {
          status: 502,
          headers: { 'content-type': 'text/html', 'x-request-id': 'req-123', 'retry-after': '30' },
        }),
    );
    const e = await oauthError(() => client.refresh('r'));
    assert.equal(e.error, 'server_error');
    assert.equal(e.status, 502);
    assert.equal(e.requestId, 'req-123');
    assert.equal(e.retryAfter, 30);
    assert.match(e.description ?? '', /502.*text\/html/);
  });

  test('JSON without an error code, a 200 that is not JSON, a token answer without a token: server_error', async () => {
    let e = await oauthError(() =>
      clientWith(() => Response.json({ message: 'oops' }, { status: 500 })).profile('t'),
    );
    assert.deepEqual([e.error, e.status], ['server_error', 500]);
    e = await oauthError(() => clientWith(() => new Response('hello', { status: 200 })).profile('t'));
    assert.deepEqual([e.error, e.status], ['server_error', 200]);
    e = await oauthError(() =>
      clientWith(() => Response.json({ token_type: 'Bearer', expires_in: 5 })).refresh('r'),
    );
    assert.equal(e.error, 'server_error');
    assert.match(e.description ?? '', /access_token/);
    e = await oauthError(() =>
      clientWith(() => Response.json({ access_token: 'a', token_type: 'MAC', expires_in: 5 })).refresh('r'),
    );
    assert.match(e.description ?? '', /token_type/);
  });

  test('a Retry-After date and RateLimit headers are read from any error answer', async () => {
    const at = new Date(Date.now() + 120_000).toUTCString();
    const client = clientWith(() =>
      Response.json(
        {
          status: 503,
          status_reason: 'Service Unavailable',
          error: 'temporarily_unavailable',
          error_description: 'maintenance',
          error_uri: 'https://auth.example/oauth2/book/error_temporarily_unavailable.html',
        },
        {
          status: 503,
          headers: {
            'retry-after': at,
            'ratelimit-limit': '10',
            'ratelimit-remaining': '3',
            'ratelimit-reset': '42',
          },
        },
      ),
    );
    const e = await oauthError(() => client.sessions('t'));
    assert.equal(e.error, 'temporarily_unavailable');
    assert.equal(e.description, 'maintenance');
    assert.ok(e.retryAfter! >= 118 && e.retryAfter! <= 121, String(e.retryAfter));
    assert.deepEqual(e.rateLimit, { limit: 10, remaining: 3, reset: 42 });
    assert.equal(e.requestId, undefined);
  });

  test('null optional fields in a token answer are left out', async () => {
    const t = await clientWith(() =>
      Response.json({
        access_token: 'a',
        token_type: 'bearer',
        expires_in: 600,
        refresh_token: null,
        refresh_token_expires_in: null,
        scope: null,
      }),
    ).refresh('r');
    assert.deepEqual(t, { access_token: 'a', token_type: 'Bearer', expires_in: 600 });
  });
});

describe('Session Management', () => {
  test('sessions: the user sessions with this client, in the book shape, the current one marked', async () => {
    const h = await headlessClient('iracing.auth iracing.profile');
    const a = await h.login();
    const b = await h.login();
    const sessions = await h.client.sessions(a.access_token);
    assert.equal(sessions.length, 2);
    const current = sessions.filter((s) => s.current_session);
    assert.equal(current.length, 1);
    const s = current[0]!;
    assert.equal(s.client_id, h.clientId);
    assert.equal(s.client_name, 'SDK test client');
    assert.equal(s.scope, 'iracing.auth iracing.profile');
    assert.equal(s.scope_descriptions?.length, 2);
    assert.equal(typeof s.auth_time, 'number');
    assert.ok(s.session_expiration > s.auth_time);
    assert.equal(s.impersonated, false);
    assert.match(s.session_id, /^[0-9a-f-]{36}$/);
    const fromB = await h.client.sessions(b.access_token);
    assert.notEqual(fromB.find((x) => x.current_session)!.session_id, s.session_id);
    const call = h.rec.calls.at(-1)!;
    assert.equal(call.url, `${server.url}/oauth2/sessions`);
    assert.equal(call.headers.get('authorization'), `Bearer ${b.access_token}`);
  });

  test('revokeSessions: revokes the listed sessions (ids comma-separated), leaves the others', async () => {
    const h = await headlessClient();
    const [a, b, c] = [await h.login(), await h.login(), await h.login()];
    const all = await h.client.sessions(a.access_token);
    const others = all.filter((s) => !s.current_session).map((s) => s.session_id);
    assert.equal(others.length, 2);
    await h.client.revokeSessions(a.access_token, others);
    assert.equal(h.rec.calls.at(-1)!.form.get('session_ids'), others.join(','));
    const left = await h.client.sessions(a.access_token);
    assert.deepEqual(
      left.map((s) => s.session_id),
      all.filter((s) => s.current_session).map((s) => s.session_id),
    );
    for (const t of [b, c]) {
      assert.equal((await oauthError(() => h.client.refresh(t.refresh_token!))).error, 'invalid_grant');
    }
    const e = await oauthError(() => h.client.revokeSessions(a.access_token, ['not-a-session']));
    assertServerError(e, 'invalid_request', 400);
  });

  test('revokeCurrent: signs out this session only; forget_browser is sent', async () => {
    const h = await headlessClient();
    const a = await h.login();
    const b = await h.login();
    await h.client.revokeCurrent(a.access_token, { forgetBrowser: true });
    const call = h.rec.calls.at(-1)!;
    assert.equal(call.url, `${server.url}/oauth2/revoke/current`);
    assert.equal(call.form.get('forget_browser'), 'true');
    assertServerError(await oauthError(() => h.client.profile(a.access_token)), 'invalid_token', 401);
    assert.equal((await oauthError(() => h.client.refresh(a.refresh_token!))).error, 'invalid_grant');
    assert.equal((await h.client.sessions(b.access_token)).length, 1);
    await h.client.revokeCurrent(b.access_token);
    assert.equal(h.rec.calls.at(-1)!.form.get('forget_browser'), 'false');
    assert.equal((await oauthError(() => h.client.sessions(b.access_token))).error, 'invalid_token');
  });

  test('revokeClient: signs out every session of the user with this client', async () => {
    const h = await headlessClient();
    const a = await h.login();
    const b = await h.login();
    await h.client.revokeClient(a.access_token);
    assert.equal(h.rec.calls.at(-1)!.url, `${server.url}/oauth2/revoke/client`);
    for (const t of [a, b]) {
      assert.equal((await oauthError(() => h.client.profile(t.access_token))).error, 'invalid_token');
      assert.equal((await oauthError(() => h.client.refresh(t.refresh_token!))).error, 'invalid_grant');
    }
    assertServerError(await oauthError(() => h.client.revokeClient(a.access_token)), 'invalid_token', 401);
  });
});

describe('revocation (RFC 7009) and introspection (RFC 7662)', () => {
  test('introspect: an active token with its claims; revoke ends the session; then inactive', async () => {
    const h = await headlessClient();
    const t = await h.login();
    const info = await h.client.introspect(t.access_token, 'access_token');
    const call = h.rec.calls.at(-1)!;
    assert.equal(call.url, `${server.url}/oauth2/introspect`);
    assert.equal(call.form.get('client_secret'), await mask(h.secret, h.clientId));
    assert.equal(call.form.get('token_type_hint'), 'access_token');
    assert.equal(info.active, true);
    assert.equal(info.client_id, h.clientId);
    assert.equal(info.token_type, 'Bearer');
    assert.equal(info.scope, 'iracing.profile');
    assert.equal((await h.client.introspect(t.refresh_token!)).token_type, 'refresh_token');

    await h.client.revoke(t.refresh_token!, 'refresh_token');
    const revoked = h.rec.calls.at(-1)!;
    assert.equal(revoked.url, `${server.url}/oauth2/revoke`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.form.get('token_type_hint'), 'refresh_token');
    assert.equal(revoked.form.get('client_id'), h.clientId);
    assert.deepEqual(await h.client.introspect(t.access_token), { active: false });
    assertServerError(await oauthError(() => h.client.profile(t.access_token)), 'invalid_token', 401);
    assert.equal((await oauthError(() => h.client.refresh(t.refresh_token!))).error, 'invalid_grant');
  });

  test('revoke resolves for an unknown token; a wrong secret is an OAuthError invalid_client', async () => {
    const h = await headlessClient();
    await h.client.revoke('not-a-token');
    assert.equal(h.rec.calls.at(-1)!.form.has('token_type_hint'), false);
    const wrong = new OAuthClient({ issuer: server.url, clientId: h.clientId, clientSecret: 'wrong' });
    assertServerError(await oauthError(() => wrong.revoke('not-a-token')), 'invalid_client', 403);
    assertServerError(await oauthError(() => wrong.introspect('not-a-token')), 'invalid_client', 403);
  });
});
