// RFC 7662 token introspection at /oauth2/introspect, over HTTP against a running server: who may ask,
// about which tokens, and when a token is active. Resource servers are registered with the real CLI.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { isActive, mayIntrospect, type TokenFacts } from '../src/oauth/introspection.ts';
import { mask } from '../src/oauth/masking.ts';
import { sessionToRevoke } from '../src/oauth/revocation.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { newClient } from './flow.ts';
import {
  cli,
  cliOk,
  decodeJwt,
  get,
  noteSecret,
  post,
  signEdDsaJwt,
  startInProcess,
  TestClock,
  type TestServer,
} from './helpers.ts';

let server: TestServer;
let clock: TestClock;
let rs: { clientId: string; maskedSecret: string };

before(async () => {
  clock = new TestClock();
  server = await startInProcess({
    name: 'introspection',
    clock,
    env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '1000' },
  });
  const r = await cliOk(
    ['clients', 'add', 'lap-api', '--name', 'Lap API', '--role', 'resource-server', '--json'],
    { env: server.env },
  );
  const added = r.json();
  noteSecret(added.client_secret, mask(added.client_secret, 'lap-api'));
  rs = { clientId: 'lap-api', maskedSecret: mask(added.client_secret, 'lap-api') };
});
after(() => server.stop());

const introspectUrl = () => `${server.url}/oauth2/introspect`;
const introspect = (caller: { clientId: string; maskedSecret?: string }, token: string, extra = {}) =>
  post(introspectUrl(), {
    client_id: caller.clientId,
    ...(caller.maskedSecret ? { client_secret: caller.maskedSecret } : {}),
    token,
    ...extra,
  });

async function tokensOf(h: Headless) {
  const r = await login(server, h, { scope: 'iracing.auth iracing.profile' });
  assert.equal(r.status, 200, r.text);
  return r.body as { access_token: string; refresh_token: string };
}

function assertInactive(r: { status: number; body: unknown; headers: Headers }) {
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { active: false });
  assert.equal(r.headers.get('cache-control'), 'no-store');
}

describe('POST /oauth2/introspect', () => {
  test("a confidential client introspects its access token: the token's claims, not cacheable", async () => {
    const h = await headless(server.ctx!.store, { custId: 424242 });
    const t = await tokensOf(h);
    const r = await introspect(h, t.access_token, { token_type_hint: 'access_token' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    const claims = decodeJwt(t.access_token).payload;
    assert.deepEqual(r.body, {
      active: true,
      scope: 'iracing.auth iracing.profile',
      client_id: h.clientId,
      sub: h.userId,
      exp: claims.exp,
      iat: claims.iat,
      aud: [h.clientId, 'oauth-api', 'data-server'],
      iss: server.issuer,
      token_type: 'Bearer',
      session_id: claims.session_id,
      iracing_cust_id: 424242,
    });
  });

  test('a refresh token is active until it is used; then its successor is', async () => {
    const h = await headless(server.ctx!.store, { custId: 515151 });
    const t = await tokensOf(h);
    const r = await introspect(h, t.refresh_token);
    assert.equal(r.body.active, true, r.text);
    assert.equal(r.body.token_type, 'refresh_token');
    assert.equal(r.body.client_id, h.clientId);
    assert.equal(r.body.sub, h.userId);
    assert.equal(r.body.session_id, decodeJwt(t.access_token).payload.session_id);
    assert.equal(r.body.iracing_cust_id, 515151);
    assert.equal(r.body.scope, 'iracing.auth iracing.profile');
    assert.equal(r.body.iss, server.issuer);
    assert.equal(r.body.aud, `${server.issuer}/oauth2/token`);
    assert.equal(r.body.exp, decodeJwt(t.refresh_token).payload.exp);
    const next = await refresh(server, h, t.refresh_token);
    assert.equal(next.status, 200, next.text);
    assertInactive(await introspect(h, t.refresh_token));
    assert.equal((await introspect(h, next.body.refresh_token)).body.active, true);
  });

  test('a client learns nothing of tokens whose audience does not include it', async () => {
    const owner = await headless(server.ctx!.store, { client: { audiences: [] } });
    const stranger = await headless(server.ctx!.store);
    const t = await tokensOf(owner);
    assertInactive(await introspect(stranger, t.access_token));
    assertInactive(await introspect(stranger, t.refresh_token));
    assert.equal((await introspect(owner, t.access_token)).body.active, true);
  });

  test("a client named in a token's audience may introspect that access token, not its refresh token", async () => {
    const api = await newClient(server.ctx!.store, {
      client_id: `telemetry-${process.pid}`,
      redirect_uris: [],
    });
    const owner = await headless(server.ctx!.store, { client: { audiences: [api.clientId] } });
    const t = await tokensOf(owner);
    const r = await introspect(api, t.access_token);
    assert.equal(r.body.active, true, r.text);
    assert.ok(r.body.aud.includes(api.clientId));
    assertInactive(await introspect(api, t.refresh_token));
  });

  test('a resource server introspects every token, and can get none of its own', async () => {
    const h = await headless(server.ctx!.store, { client: { audiences: [] } });
    const t = await tokensOf(h);
    const a = await introspect(rs, t.access_token);
    assert.equal(a.body.active, true, a.text);
    assert.equal(a.body.client_id, h.clientId);
    assert.ok(!a.body.aud.includes(rs.clientId));
    const r = await introspect(rs, t.refresh_token);
    assert.equal(r.body.active, true, r.text);
    assert.equal(r.body.token_type, 'refresh_token');
    const own = await post(`${server.url}/oauth2/token`, {
      grant_type: 'password_limited',
      client_id: rs.clientId,
      client_secret: rs.maskedSecret,
      username: h.username,
      password: h.maskedPassword,
    });
    assert.equal(own.body.error, 'unauthorized_client');
  });

  test('the CLI registers a resource server as confidential with no grants, and refuses anything else', async () => {
    const show = (await cliOk(['clients', 'show', 'lap-api', '--json'], { env: server.env })).json();
    assert.equal(show.role, 'resource-server');
    assert.equal(show.client_type, 'confidential');
    assert.deepEqual(show.grant_types, []);
    assert.deepEqual(show.redirect_uris, []);
    const plain = (await cliOk(['clients', 'show', 'lap-api'], { env: server.env })).stdout;
    assert.match(plain, /resource-server/);
    const refusals: [string[], RegExp][] = [
      [['--type', 'public'], /must be confidential/],
      [['--grant', 'refresh_token'], /no grants/],
      [['--redirect-uri', 'https://api.example/cb'], /no redirect URIs/],
      [['--role', 'bouncer'], /bouncer/],
    ];
    for (const [flags, message] of refusals) {
      const args = ['clients', 'add', 'bad-rs', '--name', 'Bad', ...flags];
      if (!flags.includes('--role')) args.push('--role', 'resource-server');
      const r = await cli(args, { env: server.env });
      assert.notEqual(r.code, 0, flags.join(' '));
      assert.match(r.stderr, message);
    }
    const update = await cli(['clients', 'update', 'lap-api', '--grant', 'authorization_code'], {
      env: server.env,
    });
    assert.notEqual(update.code, 0);
    assert.match(update.stderr, /no grants/);
    assert.equal(await server.ctx!.store.getClient('bad-rs'), undefined);
    assert.deepEqual((await server.ctx!.store.getClient('lap-api'))?.grant_types, []);
    const app = (
      await cliOk(['clients', 'add', 'plain-app', '--name', 'App', '--json'], { env: server.env })
    ).json();
    noteSecret(app.client_secret);
    assert.equal(app.role, 'client');
  });

  test('a revoked session makes its tokens inactive', async () => {
    const h = await headless(server.ctx!.store);
    const t = await tokensOf(h);
    const r = await post(`${server.url}/oauth2/revoke`, {
      client_id: h.clientId,
      client_secret: h.maskedSecret,
      token: t.access_token,
    });
    assert.equal(r.status, 200);
    assertInactive(await introspect(h, t.access_token));
    assertInactive(await introspect(h, t.refresh_token));
    assertInactive(await introspect(rs, t.access_token));
  });

  test('unknown, malformed and forged tokens are inactive', async () => {
    const h = await headless(server.ctx!.store);
    const t = await tokensOf(h);
    const { header, payload } = decodeJwt(t.access_token);
    const { privateKey } = generateKeyPairSync('ed25519');
    for (const token of ['nope', 'a.b.c', `${t.access_token}x`, signEdDsaJwt(header, payload, privateKey)]) {
      assertInactive(await introspect(h, token));
      assertInactive(await introspect(rs, token));
    }
  });

  test('a public client may not introspect; client authentication fails as at /token', async () => {
    const h = await headless(server.ctx!.store);
    const t = await tokensOf(h);
    const spa = await newClient(server.ctx!.store, {
      client_type: 'public',
      redirect_uris: ['https://spa.example/cb'],
    });
    const pub = await introspect(spa, t.access_token);
    assert.equal(pub.status, 401);
    assert.equal(pub.body.error, 'unauthorized_client');
    const wrong = await introspect(
      { clientId: h.clientId, maskedSecret: 'd3Jvbmctc2VjcmV0LW1hc2tlZA' },
      t.access_token,
    );
    assert.equal(wrong.body.error, 'invalid_client');
    const unmasked = await introspect({ clientId: h.clientId, maskedSecret: h.secret }, t.access_token);
    assert.equal(unmasked.body.error, 'invalid_client');
    assert.match(unmasked.body.error_description, /masked/);
    const missing = await post(introspectUrl(), { client_id: h.clientId, client_secret: h.maskedSecret });
    assert.equal(missing.body.error, 'invalid_request');
    for (const r of [pub, wrong, missing]) assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  test('expired tokens are inactive: the access token at its exp, the refresh token at its own', async () => {
    const h = await headless(server.ctx!.store, {
      client: { access_token_ttl: 60, refresh_token_ttl: 300 },
    });
    const t = await tokensOf(h);
    clock.advance(59);
    assert.equal((await introspect(h, t.access_token)).body.active, true);
    clock.advance(1);
    assertInactive(await introspect(h, t.access_token));
    assertInactive(await introspect(rs, t.access_token));
    assert.equal((await introspect(h, t.refresh_token)).body.active, true);
    clock.advance(240);
    assertInactive(await introspect(h, t.refresh_token));
  });

  test('discovery lists the endpoint', async () => {
    const md = (await get(`${server.url}/.well-known/oauth-authorization-server`)).body;
    assert.equal(md.introspection_endpoint, `${server.issuer}/oauth2/introspect`);
    assert.deepEqual(md.introspection_endpoint_auth_methods_supported, ['client_secret_post']);
  });
});

describe('the rules, as pure functions', () => {
  const access: TokenFacts = {
    token_type: 'Bearer',
    client_id: 'app',
    sub: 'u',
    session_id: 's',
    scope: null,
    iat: 100,
    exp: 200,
    aud: ['app', 'oauth-api', 'data-api'],
    iss: 'https://issuer.example',
    iracing_cust_id: null,
    used: false,
  };
  const refreshFacts: TokenFacts = {
    ...access,
    token_type: 'refresh_token',
    aud: 'https://issuer.example/oauth2/token',
  };
  const live = { revoked_at: null, expires_at: 1000 };

  test('active until exp and while the session lives, exclusive at both ends', () => {
    assert.equal(isActive(access, live, 199), true);
    assert.equal(isActive(access, live, 200), false);
    assert.equal(isActive(access, { revoked_at: 150, expires_at: 1000 }, 160), false);
    assert.equal(isActive(access, { revoked_at: null, expires_at: 199 }, 199), false);
    assert.equal(isActive(access, undefined, 150), false);
    assert.equal(isActive({ ...refreshFacts, used: true }, live, 150), false);
  });

  test('the audience rule: aud for access tokens, the issuing client for refresh tokens', () => {
    const client = (client_id: string) => ({ client_id, role: 'client' as const });
    assert.equal(mayIntrospect(client('app'), access), true);
    assert.equal(mayIntrospect(client('data-api'), access), true);
    assert.equal(mayIntrospect(client('oauth'), access), false);
    assert.equal(mayIntrospect(client('app'), refreshFacts), true);
    assert.equal(mayIntrospect(client('data-api'), refreshFacts), false);
    assert.equal(mayIntrospect({ client_id: 'rs', role: 'resource-server' }, refreshFacts), true);
    assert.equal(mayIntrospect(client('app'), { ...access, aud: 'app' }), true);
    assert.equal(mayIntrospect(client('app'), { ...access, aud: undefined }), false);
  });

  test("revocation touches only the caller's own token", () => {
    assert.equal(sessionToRevoke({ client_id: 'app', session_id: 's' }, 'app'), 's');
    assert.equal(sessionToRevoke({ client_id: 'app', session_id: 's' }, 'other'), undefined);
    assert.equal(sessionToRevoke(undefined, 'app'), undefined);
  });
});
