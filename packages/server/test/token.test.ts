// /token (password_limited, refresh_token), /iracing/profile and the JWKS, over HTTP against a running
// server on SQLite.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { mask } from '../src/oauth/masking.ts';
import { deriveKey } from '../src/tokens/master-key.ts';
import { assertBookError, assertTokenResponse } from './assertions.ts';
import { type Headless, headless, login, passwordForm, refresh } from './fixtures.ts';
import { decodeJwt, get, noteSecret, post, startInProcess, TestClock, type TestServer } from './helpers.ts';

let server: TestServer;
let h: Headless;
let token: string;

before(async () => {
  server = await startInProcess({ name: 'token' });
  h = await headless(server.ctx!.store);
});
after(() => server.stop());

const tokenUrl = () => `${server.url}/oauth2/token`;

const assertError = (
  r: { status: number; body: any; headers: Headers },
  status: number,
  error: string,
  d?: RegExp,
) => assertBookError(server.issuer, r, status, error, d);

describe('password_limited grant', () => {
  test('returns exactly the book response, with no-store and a request id', async () => {
    const r = await login(server, h, { scope: 'iracing.auth iracing.profile' });
    assertTokenResponse(r, { scope: 'iracing.auth iracing.profile' });
    assert.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    token = r.body.access_token;
  });

  test('the access token validates with jose against the served JWKS and has exactly the book claims', async () => {
    const jwksUrl = `${server.issuer}/.well-known/jwks.json`;
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(jwksUrl)), {
      issuer: server.issuer,
      audience: 'oauth-api',
      algorithms: ['EdDSA'],
    });
    assert.deepEqual(Object.keys(protectedHeader), ['kid', 'alg', 'jku']);
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(protectedHeader.jku, jwksUrl);
    assert.deepEqual(Object.keys(payload), [
      'session_id',
      'iss',
      'exp',
      'aud',
      'sub',
      'client_id',
      'iat',
      'jti',
      'auth_time',
      'scope',
      'iracing_env',
      'iracing_cust_id',
      'iracing_group_ids',
    ]);
    assert.deepEqual(payload.aud, [h.clientId, 'oauth-api', 'data-server']);
    assert.equal(payload.client_id, h.clientId);
    assert.equal(payload.sub, h.userId);
    assert.equal(payload.exp! - payload.iat!, 600);
    assert.equal(payload.auth_time, payload.iat);
    assert.equal(payload.iracing_env, 'members');
    assert.deepEqual(payload.iracing_group_ids, [1, 2, 3, 5, 8, 10]);
    assert.equal(typeof payload.iracing_cust_id, 'number');
    assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
    assert.match(String(payload.session_id), /^[0-9a-f-]{36}$/);
  });

  test('no scope asked: the scope field is omitted, never null; the token claim is null', async () => {
    const r = await login(server, h);
    assert.equal(r.status, 200);
    assert.ok(!('scope' in r.body));
    assert.equal(decodeJwt(r.body.access_token).payload.scope, null);
  });

  test("the refresh token is a JWT under the server's own HS256 key, that a client can read exp from", async () => {
    const r = await login(server, h);
    const { header, payload } = decodeJwt(r.body.refresh_token);
    assert.equal(header.alg, 'HS256');
    const [h64, p64, mac] = r.body.refresh_token.split('.');
    const key = deriveKey(server.ctx!.csrfKey, 'refresh tokens');
    assert.equal(mac, createHmac('sha256', key).update(`${h64}.${p64}`).digest('base64url'));
    assert.equal(payload.exp - payload.iat, r.body.refresh_token_expires_in);
  });

  test('the JWKS serves OKP/Ed25519 keys with kid, alg and use, and cache headers', async () => {
    const r = await get(`${server.url}/.well-known/jwks.json`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('cache-control') ?? '', /max-age=\d+/);
    assert.ok(r.body.keys.length >= 1);
    for (const k of r.body.keys) {
      assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
      assert.equal(k.kty, 'OKP');
      assert.equal(k.crv, 'Ed25519');
      assert.equal(k.alg, 'EdDSA');
      assert.equal(k.use, 'sig');
    }
  });

  test('the form content type may carry a charset', async () => {
    const r = await post(tokenUrl(), new URLSearchParams(passwordForm(h)).toString(), {
      'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
    });
    assert.equal(r.status, 200);
    noteSecret(r.body.access_token, r.body.refresh_token);
  });
});

describe('the book masking example at /token', () => {
  test('password "Anagram-tactics-FOOTING-OPACITY-SHONE-keenly" masked with " John.West@iracing.com "', async () => {
    const { createUser } = await import('../src/accounts/users.ts');
    const store = server.ctx!.store;
    const user = await createUser(
      store,
      {
        username: 'John.West@iracing.com',
        display_name: 'John West',
        password: 'Anagram-tactics-FOOTING-OPACITY-SHONE-keenly',
        cust_id: 15535,
      },
      0,
    );
    await store.allowUser(h.clientId, user.user_id, 0);
    const masked = mask('Anagram-tactics-FOOTING-OPACITY-SHONE-keenly', ' John.West@iracing.com ');
    assert.equal(masked, 'KIhAi2ynNPWvJsebdluGaBaPTRaUACqTPDCfyUuv46Y=');
    noteSecret(
      masked,
      'Anagram-tactics-FOOTING-OPACITY-SHONE-keenly',
      'KIhAi2ynNPWvJsebdluGaBaPTRaUACqTPDCfyUuv46Y%3D',
    );
    // Sent percent-encoded, as the book shows, with the username as the user typed it.
    const body = `grant_type=password_limited&client_id=${h.clientId}&client_secret=${encodeURIComponent(h.maskedSecret)}&username=%20John.West%40iracing.com%20&password=KIhAi2ynNPWvJsebdluGaBaPTRaUACqTPDCfyUuv46Y%3D&scope=iracing.profile`;
    const r = await post(tokenUrl(), body);
    assert.equal(r.status, 200, r.text);
    noteSecret(r.body.access_token, r.body.refresh_token);
    const p = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${r.body.access_token}`,
    });
    assert.deepEqual(p.body, { iracing_name: 'John West', iracing_cust_id: 15535 });
    const wrong = await post(tokenUrl(), body.replace('46Y%3D', '46Z%3D'));
    await assertError(wrong, 401, 'access_denied');
  });
});

describe('refresh_token grant', () => {
  test('rotates: the new pair works, the old refresh token is refused and revokes the session', async () => {
    const first = await login(server, h, { scope: 'iracing.profile' });
    const second = await refresh(server, h, first.body.refresh_token);
    assert.equal(second.status, 200);
    assert.notEqual(second.body.refresh_token, first.body.refresh_token);
    assert.equal(second.body.scope, 'iracing.profile');
    const s1 = decodeJwt(first.body.access_token).payload.session_id;
    assert.equal(decodeJwt(second.body.access_token).payload.session_id, s1);
    assert.equal(
      decodeJwt(second.body.access_token).payload.auth_time,
      decodeJwt(first.body.access_token).payload.auth_time,
    );

    const profile = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${second.body.access_token}`,
    });
    assert.equal(profile.status, 200);

    const reuse = await refresh(server, h, first.body.refresh_token);
    await assertError(reuse, 400, 'invalid_grant', /already used.*revoked/);
    // The whole session is gone: the newest refresh token and the access token are refused too.
    await assertError(await refresh(server, h, second.body.refresh_token), 400, 'invalid_grant', /revoked/);
    const after = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${second.body.access_token}`,
    });
    await assertError(after, 401, 'invalid_token', /revoked/);
  });

  test("another client cannot use (or burn) a client's refresh token", async () => {
    const other = await headless(server.ctx!.store);
    const mine = await login(server, h);
    const r = await refresh(server, other, mine.body.refresh_token);
    await assertError(r, 400, 'invalid_grant', /not issued to this client/);
    assert.equal((await refresh(server, h, mine.body.refresh_token)).status, 200);
  });

  test('an inactive subscription is invalid_grant and leaves the token usable once reactivated', async () => {
    const u = await headless(server.ctx!.store);
    const first = await login(server, u);
    await server.ctx!.store.users.setSubscription(u.userId, false, 0);
    await assertError(
      await refresh(server, u, first.body.refresh_token),
      400,
      'invalid_grant',
      /subscription/,
    );
    await server.ctx!.store.users.setSubscription(u.userId, true, 0);
    assert.equal((await refresh(server, u, first.body.refresh_token)).status, 200);
  });

  test('a disabled client gets no tokens', async () => {
    const u = await headless(server.ctx!.store);
    const first = await login(server, u);
    await server.ctx!.store.updateClient(u.clientId, { disabled_at: 1 }, 0);
    await assertError(
      await refresh(server, u, first.body.refresh_token),
      401,
      'unauthorized_client',
      /disabled/,
    );
    await assertError(await login(server, u), 401, 'unauthorized_client', /disabled/);
    await server.ctx!.store.updateClient(u.clientId, { disabled_at: null }, 0);
    assert.equal((await refresh(server, u, first.body.refresh_token)).status, 200);
  });

  test('a revoked session is refused', async () => {
    const u = await headless(server.ctx!.store);
    const first = await login(server, u);
    await server.ctx!.store.revokeSession(decodeJwt(first.body.access_token).payload.session_id, 'test', 0);
    await assertError(await refresh(server, u, first.body.refresh_token), 400, 'invalid_grant', /revoked/);
  });
});

describe('lifetimes', () => {
  test('per-client lifetimes; a refresh token never outlives its session; expired tokens are refused', async () => {
    const clock = new TestClock();
    const s = await startInProcess({ clock, env: { PADDOCK_SESSION_MAX_AGE: '1000' }, name: 'lifetimes' });
    try {
      const u = await headless(s.ctx!.store, { client: { access_token_ttl: 60, refresh_token_ttl: 700 } });
      const first = await login(s, u, { scope: 'iracing.profile' });
      assert.equal(first.body.expires_in, 60);
      assert.equal(first.body.refresh_token_expires_in, 700);

      clock.advance(61);
      const expired = await get(`${s.url}/oauth2/iracing/profile`, {
        authorization: `Bearer ${first.body.access_token}`,
      });
      assert.equal(expired.status, 401);
      assert.match(expired.body.error_description, /expired/);

      clock.advance(500); // 561 s into a 1000 s session: 439 s left, less than the 700 s refresh lifetime.
      const second = await refresh(s, u, first.body.refresh_token);
      assert.equal(second.status, 200);
      assert.equal(second.body.refresh_token_expires_in, 439);
      assert.equal(decodeJwt(second.body.refresh_token).payload.exp, Math.floor(clock.now() / 1000) + 439);

      clock.advance(440);
      const late = await refresh(s, u, second.body.refresh_token);
      assert.equal(late.status, 400);
      assert.equal(late.body.error, 'invalid_grant');
    } finally {
      await s.stop();
    }
  });
});

describe('/iracing/profile', () => {
  test('returns iracing_name and iracing_cust_id with the iracing.profile scope', async () => {
    const r = await login(server, h, { scope: 'iracing.profile' });
    const p = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${r.body.access_token}`,
    });
    assert.equal(p.status, 200);
    assert.deepEqual(Object.keys(p.body), ['iracing_name', 'iracing_cust_id']);
    assert.equal(p.body.iracing_name, 'John West');
    assert.equal(p.body.iracing_cust_id, decodeJwt(r.body.access_token).payload.iracing_cust_id);
  });

  test('without iracing.profile: 403 insufficient_scope', async () => {
    const r = await login(server, h, { scope: 'iracing.auth' });
    const p = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${r.body.access_token}`,
    });
    await assertError(p, 403, 'insufficient_scope', /iracing.profile/);
    assert.match(p.headers.get('www-authenticate') ?? '', /insufficient_scope/);
  });

  test('missing, malformed, forged and refresh tokens are 401 invalid_token', async () => {
    const url = `${server.url}/oauth2/iracing/profile`;
    await assertError(await get(url), 401, 'invalid_token', /missing/);
    await assertError(await get(url, { authorization: 'Basic abc' }), 401, 'invalid_token');
    await assertError(await get(url, { authorization: 'Bearer not.a.jwt' }), 401, 'invalid_token');
    const r = await login(server, h, { scope: 'iracing.profile' });
    const [hd, pl] = r.body.access_token.split('.');
    const forged = `${hd}.${pl}.${'A'.repeat(86)}`;
    await assertError(await get(url, { authorization: `Bearer ${forged}` }), 401, 'invalid_token');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${pl}.`;
    await assertError(await get(url, { authorization: `Bearer ${none}` }), 401, 'invalid_token');
    await assertError(
      await get(url, { authorization: `Bearer ${r.body.refresh_token}` }),
      401,
      'invalid_token',
    );
  });
});

describe('every error the grants can give', () => {
  const form = (over: Record<string, string | undefined>) => {
    const f: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...passwordForm(h), ...over })) if (v !== undefined) f[k] = v;
    return f;
  };
  const cases: [string, () => Record<string, string> | string, number, string, RegExp][] = [
    [
      'missing grant_type',
      () => form({ grant_type: undefined }),
      400,
      'invalid_request',
      /grant_type missing/,
    ],
    ['unknown grant_type', () => form({ grant_type: 'password' }), 400, 'unsupported_grant_type', /password/],
    [
      'repeated parameter',
      () => `${new URLSearchParams(form({})).toString()}&username=x`,
      400,
      'invalid_request',
      /username is repeated/,
    ],
    ['missing client_id', () => form({ client_id: undefined }), 400, 'invalid_request', /client_id missing/],
    ['unknown client_id', () => form({ client_id: 'nope' }), 403, 'invalid_client', /client_id/],
    [
      'missing client_secret',
      () => form({ client_secret: undefined }),
      403,
      'invalid_client',
      /client_secret missing/,
    ],
    [
      'wrong client_secret',
      () => form({ client_secret: mask('wrong', h.clientId) }),
      403,
      'invalid_client',
      /not correct/,
    ],
    ['unmasked client_secret', () => form({ client_secret: h.secret }), 403, 'invalid_client', /masked/],
    ['missing username', () => form({ username: undefined }), 400, 'invalid_request', /username missing/],
    ['missing password', () => form({ password: undefined }), 400, 'invalid_request', /password missing/],
    ['unknown scope', () => form({ scope: 'iracing.admin' }), 400, 'invalid_scope', /unknown/],
    [
      'duplicated scope',
      () => form({ scope: 'iracing.auth iracing.auth' }),
      400,
      'invalid_scope',
      /duplicated/,
    ],
    [
      'missing refresh_token',
      () => ({ grant_type: 'refresh_token', client_id: h.clientId, client_secret: h.maskedSecret }),
      400,
      'invalid_request',
      /refresh_token missing/,
    ],
    [
      'unknown refresh_token',
      () => ({
        grant_type: 'refresh_token',
        client_id: h.clientId,
        client_secret: h.maskedSecret,
        refresh_token: 'abc',
      }),
      400,
      'invalid_grant',
      /not valid/,
    ],
  ];
  for (const [name, body, status, error, why] of cases) {
    test(`${name}: ${status} ${error}`, async () => {
      await assertError(await post(tokenUrl(), body()), status, error, why);
    });
  }

  test('wrong password: 401 access_denied', async () => {
    const u = await headless(server.ctx!.store);
    await assertError(
      await login(server, u, { password: mask('wrong', u.username) }),
      401,
      'access_denied',
      /not correct/,
    );
  });

  test('unknown user: 401 access_denied, same message', async () => {
    const u = await headless(server.ctx!.store);
    await assertError(
      await login(server, u, { username: 'nobody@example.com' }),
      401,
      'access_denied',
      /not correct/,
    );
  });

  test('user not on the access list: 401 access_denied, same message (password-limited.test.ts)', async () => {
    const u = await headless(server.ctx!.store);
    await server.ctx!.store.disallowUser(u.clientId, u.userId);
    await assertError(await login(server, u), 401, 'access_denied', /not correct/);
  });

  test('inactive subscription: 400 invalid_grant', async () => {
    const u = await headless(server.ctx!.store, { subscription: false });
    await assertError(await login(server, u), 400, 'invalid_grant', /subscription/);
  });

  test('a client without the grant: 401 unauthorized_client', async () => {
    const u = await headless(server.ctx!.store, {
      client: { grant_types: ['authorization_code', 'refresh_token'] },
    });
    await assertError(await login(server, u), 401, 'unauthorized_client', /password_limited/);
  });

  test('a public client cannot use password_limited', async () => {
    const { createClient } = await import('../src/clients/registry.ts');
    await createClient(
      server.ctx!.store,
      { client_id: 'public-pl', client_name: 'P', client_type: 'public' },
      0,
    );
    const r = await post(tokenUrl(), {
      grant_type: 'password_limited',
      client_id: 'public-pl',
      username: h.username,
      password: h.maskedPassword,
    });
    await assertError(r, 401, 'unauthorized_client', /password_limited/);
    const withSecret = await post(tokenUrl(), {
      grant_type: 'refresh_token',
      client_id: 'public-pl',
      client_secret: 'x',
      refresh_token: 'y',
    });
    await assertError(withSecret, 403, 'invalid_client', /no secret/);
  });

  test('a JSON body: 400 invalid_request', async () => {
    const r = await fetch(tokenUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await assertError(
      { status: r.status, body: await r.json(), headers: r.headers },
      400,
      'invalid_request',
      /x-www-form-urlencoded/,
    );
  });

  test('no body, a huge body and an unknown endpoint never give a 500', async () => {
    const empty = await fetch(tokenUrl(), { method: 'POST' });
    assert.equal(empty.status, 400);
    const huge = await post(tokenUrl(), `grant_type=${'a'.repeat(200_000)}`);
    assert.equal(huge.status, 400);
    assert.equal(huge.body.error, 'invalid_request');
    const nowhere = await get(`${server.url}/oauth2/nowhere`);
    assert.equal(nowhere.status, 404);
    assert.equal(nowhere.body.error, 'invalid_request');
    const badPct = await post(tokenUrl(), 'grant_type=%ZZ&client_id=%');
    assert.ok(badPct.status < 500);
  });
});
