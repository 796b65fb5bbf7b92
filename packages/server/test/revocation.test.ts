// RFC 7009 token revocation at /oauth2/revoke, over HTTP against a running server: a client revokes its
// own refresh or access token and with it the session; anything else answers 200 and changes nothing.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { authorizeToCode, pkcePair } from './code-flow.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { newClient, newUser, type TestUser } from './flow.ts';
import {
  decodeJwt,
  get,
  noteSecret,
  post,
  signEdDsaJwt,
  startInProcess,
  TestClock,
  type TestServer,
} from './helpers.ts';
import { Browser } from './http-browser.ts';

const SPA = 'https://spa.example';
const SPA_CB = `${SPA}/callback`;

let server: TestServer;
let clock: TestClock;
let spaId: string;
let user: TestUser;

before(async () => {
  clock = new TestClock();
  server = await startInProcess({
    name: 'revocation',
    clock,
    env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '1000' },
  });
  const store = server.ctx!.store;
  spaId = (await newClient(store, { client_type: 'public', redirect_uris: [SPA_CB] })).clientId;
  user = await newUser(store);
});
after(() => server.stop());

const revokeUrl = () => `${server.url}/oauth2/revoke`;
const revoke = (h: Headless, token: string, extra: Record<string, string> = {}) =>
  post(revokeUrl(), { client_id: h.clientId, client_secret: h.maskedSecret, token, ...extra });
const profile = (accessToken: string) =>
  get(`${server.url}/oauth2/iracing/profile`, { authorization: `Bearer ${accessToken}` });

async function tokensOf(h: Headless) {
  const r = await login(server, h, { scope: 'iracing.profile' });
  assert.equal(r.status, 200, r.text);
  return r.body as { access_token: string; refresh_token: string };
}

/** Both tokens of the session still work (a refresh rotates; the new pair is returned). */
async function assertLive(h: Headless, t: { access_token: string; refresh_token: string }) {
  assert.equal((await profile(t.access_token)).status, 200);
  const r = await refresh(server, h, t.refresh_token);
  assert.equal(r.status, 200, r.text);
  return r.body as { access_token: string; refresh_token: string };
}

async function assertRevoked(h: Headless, t: { access_token: string; refresh_token: string }) {
  const p = await profile(t.access_token);
  assert.equal(p.status, 401);
  assert.equal(p.body.error, 'invalid_token');
  const r = await refresh(server, h, t.refresh_token);
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'invalid_grant');
}

/** An access token for `payload` signed with a key that is not the server's, under the server's kid. */
function forged(like: string, changes: Record<string, unknown> = {}): string {
  const { header, payload } = decodeJwt(like);
  const { privateKey } = generateKeyPairSync('ed25519');
  return signEdDsaJwt(header, { ...payload, ...changes }, privateKey);
}

describe('POST /oauth2/revoke', () => {
  test('revoking a refresh token ends its session: the refresh and the access token both fail', async () => {
    const h = await headless(server.ctx!.store);
    const t = await tokensOf(h);
    const r = await revoke(h, t.refresh_token, { token_type_hint: 'refresh_token' });
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    await assertRevoked(h, t);
    const session = await server.ctx!.store.getSession(decodeJwt(t.access_token).payload.session_id);
    assert.equal(session?.revoked_reason, 'token_revoked');
  });

  test('revoking an access token ends its session', async () => {
    const h = await headless(server.ctx!.store);
    const t = await tokensOf(h);
    const r = await revoke(h, t.access_token, { token_type_hint: 'access_token' });
    assert.equal(r.status, 200);
    await assertRevoked(h, t);
  });

  test('the hint is only a hint: a wrong or unknown hint still finds the token', async () => {
    const h = await headless(server.ctx!.store);
    const a = await tokensOf(h);
    assert.equal((await revoke(h, a.refresh_token, { token_type_hint: 'access_token' })).status, 200);
    await assertRevoked(h, a);
    const b = await tokensOf(h);
    assert.equal((await revoke(h, b.access_token, { token_type_hint: 'id_token' })).status, 200);
    await assertRevoked(h, b);
  });

  test("another client's token answers 200 and is not revoked", async () => {
    const owner = await headless(server.ctx!.store);
    const other = await headless(server.ctx!.store);
    let t = await tokensOf(owner);
    for (const token of [t.refresh_token, t.access_token]) {
      const r = await revoke(other, token);
      assert.equal(r.status, 200);
      assert.equal(r.text, '');
    }
    t = await assertLive(owner, t);
    await assertLive(owner, t);
  });

  test('unknown, malformed and forged tokens answer 200 and change nothing', async () => {
    const h = await headless(server.ctx!.store);
    const t = await tokensOf(h);
    const fakes = [
      'not-a-token',
      'a.b.c',
      `${t.access_token}x`,
      forged(t.access_token),
      forged(t.access_token, { exp: decodeJwt(t.access_token).payload.exp + 3600 }),
      't'.repeat(20_000),
    ];
    for (const token of fakes) {
      const r = await revoke(h, token);
      assert.equal(r.status, 200, `${token.slice(0, 40)}: ${r.text}`);
      assert.equal(r.text, '');
    }
    await assertLive(h, t);
  });

  test('an expired access token, still signed by the server, revokes its session', async () => {
    const h = await headless(server.ctx!.store, { client: { access_token_ttl: 60 } });
    const t = await tokensOf(h);
    clock.advance(61);
    assert.equal((await profile(t.access_token)).body.error_description, 'access token has expired');
    assert.equal((await revoke(h, t.access_token)).status, 200);
    const r = await refresh(server, h, t.refresh_token);
    assert.equal(r.body.error, 'invalid_grant');
    assert.match(r.body.error_description, /revoked/);
  });

  test('a public client revokes by client_id alone; it may not send a secret', async () => {
    const b = new Browser();
    const { verifier, challenge } = pkcePair();
    const code = await authorizeToCode(server, b, user, {
      response_type: 'code',
      client_id: spaId,
      redirect_uri: SPA_CB,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'iracing.profile',
    });
    const tr = await post(`${server.url}/oauth2/token`, {
      grant_type: 'authorization_code',
      client_id: spaId,
      code,
      redirect_uri: SPA_CB,
      code_verifier: verifier,
    });
    assert.equal(tr.status, 200, tr.text);
    noteSecret(tr.body.access_token, tr.body.refresh_token);
    const withSecret = await post(revokeUrl(), {
      client_id: spaId,
      client_secret: 'c2VjcmV0LXRoYXQtZG9lcy1ub3QtZXhpc3Q',
      token: tr.body.refresh_token,
    });
    assert.equal(withSecret.body.error, 'invalid_client');
    assert.equal((await profile(tr.body.access_token)).status, 200);

    const r = await post(revokeUrl(), { client_id: spaId, token: tr.body.refresh_token }, { origin: SPA });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), SPA);
    assert.equal((await profile(tr.body.access_token)).body.error, 'invalid_token');
  });

  test('CORS as for /token: a preflight from a public client origin is answered, others are not', async () => {
    const preflight = (origin: string) =>
      fetch(revokeUrl(), {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
    const ok = await preflight(SPA);
    assert.equal(ok.headers.get('access-control-allow-origin'), SPA);
    assert.match(ok.headers.get('access-control-allow-methods') ?? '', /POST/);
    const evil = await preflight('https://evil.example');
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
  });

  test('client authentication fails as at /token and nothing is revoked', async () => {
    const h = await headless(server.ctx!.store);
    const t = await tokensOf(h);
    const cases: [Record<string, string>, string, RegExp][] = [
      [
        { client_id: h.clientId, client_secret: 'd3Jvbmctc2VjcmV0LW1hc2tlZA' },
        'invalid_client',
        /not correct/,
      ],
      [{ client_id: h.clientId, client_secret: h.secret }, 'invalid_client', /masked/],
      [{ client_id: h.clientId }, 'invalid_client', /client_secret missing/],
      [{ client_id: 'no-such-client' }, 'invalid_client', /client_id/],
      [{}, 'invalid_request', /client_id/],
    ];
    for (const [auth, error, description] of cases) {
      const r = await post(revokeUrl(), { ...auth, token: t.refresh_token });
      assert.equal(r.body.error, error, JSON.stringify(auth));
      assert.match(r.body.error_description, description);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    }
    await assertLive(h, t);
  });

  test('a disabled client may not revoke; a request without a token is invalid_request', async () => {
    const h = await headless(server.ctx!.store);
    const t = await tokensOf(h);
    const missing = await post(revokeUrl(), { client_id: h.clientId, client_secret: h.maskedSecret });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error, 'invalid_request');
    assert.match(missing.body.error_description, /token/);
    const twice = await post(
      revokeUrl(),
      `client_id=${h.clientId}&client_secret=${h.maskedSecret}&token=a&token=b`,
    );
    assert.equal(twice.body.error, 'invalid_request');
    const json = await fetch(revokeUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: h.clientId, client_secret: h.maskedSecret, token: t.refresh_token }),
    });
    assert.ok(json.status >= 400 && json.status < 500, String(json.status));
    await server.ctx!.store.updateClient(h.clientId, { disabled_at: 1 }, 1);
    const disabled = await revoke(h, t.refresh_token);
    assert.equal(disabled.body.error, 'unauthorized_client');
    await server.ctx!.store.updateClient(h.clientId, { disabled_at: null }, 1);
    await assertLive(h, t);
  });

  test("the book's /revoke/current, /revoke/sessions and /revoke/client are still their own routes", async () => {
    const h = await headless(server.ctx!.store);
    const t = await tokensOf(h);
    const current = await post(
      `${server.url}/oauth2/revoke/current`,
      {},
      {
        authorization: `Bearer ${t.access_token}`,
      },
    );
    assert.equal(current.status, 200);
    await assertRevoked(h, t);
    const noBearer = await post(`${server.url}/oauth2/revoke/client`, { token: 'x' });
    assert.equal(noBearer.status, 401);
    assert.equal(noBearer.body.error, 'invalid_token');
  });

  test('discovery lists the endpoint and its client authentication methods', async () => {
    const md = (await get(`${server.url}/.well-known/oauth-authorization-server`)).body;
    assert.equal(md.revocation_endpoint, `${server.issuer}/oauth2/revoke`);
    assert.deepEqual(md.revocation_endpoint_auth_methods_supported, ['client_secret_post', 'none']);
  });
});
