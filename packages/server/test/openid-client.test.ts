// A certified third-party client, openid-client v6, runs the authorization code flow (PKCE S256), the
// refresh token grant, token introspection (RFC 7662) and token revocation (RFC 7009) against Paddock,
// finding every endpoint by discovery; the sign-in and consent pages are driven over HTTP.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { createUser } from '../src/accounts/users.ts';
import { createClient } from '../src/clients/registry.ts';
import { mask } from '../src/oauth/masking.ts';
import { decodeJwt, get, noteSecret, startInProcess, type TestServer } from './helpers.ts';
import { Browser, hidden } from './http-browser.ts';

const PUBLIC_ID = 'oidc-public';
const CONF_ID = 'oidc-confidential';
const REDIRECT = 'https://app.example/callback';
const CONF_REDIRECT = 'https://server-app.example/callback';

let server: TestServer;
let username: string;
let password: string;
let userId: string;
let maskedSecret: string;

before(async () => {
  server = await startInProcess({ name: 'openid-client' });
  const store = server.ctx!.store;
  username = 'oidc.user@example.com';
  password = `pw-${randomBytes(9).toString('base64url')}-Battery-Staple`;
  noteSecret(password, mask(password, username));
  userId = (await createUser(store, { username, display_name: 'John West', password, cust_id: 15535 }, 0))
    .user_id;
  await createClient(
    store,
    { client_id: PUBLIC_ID, client_name: 'Public app', client_type: 'public', redirect_uris: [REDIRECT] },
    0,
  );
  const { client_secret } = await createClient(
    store,
    { client_id: CONF_ID, client_name: 'Server app', redirect_uris: [CONF_REDIRECT] },
    0,
  );
  maskedSecret = mask(client_secret!, CONF_ID);
  noteSecret(client_secret, maskedSecret);
});
after(() => server.stop());

/** Follows the sign-in and consent pages as the user; returns the URL the browser lands on at the app. */
async function userAgentFlow(
  b: Browser,
  authorizationUrl: URL,
  decision: 'allow' | 'deny' = 'allow',
): Promise<string> {
  let step = await b.open(authorizationUrl.href);
  for (let i = 0; i < 4; i++) {
    assert.ok([302, 303].includes(step.status), `${step.status} ${step.text}`);
    const next = step.location!;
    if (!next.startsWith(`${server.url}/`)) return next;
    const page = await b.open(next);
    assert.equal(page.status, 200, page.text);
    const form: Record<string, string> = {
      request_id: hidden(page.text, 'request_id'),
      csrf_token: hidden(page.text, 'csrf_token'),
    };
    noteSecret(form.csrf_token);
    const isLogin = new URL(next).pathname === '/oauth2/login';
    if (isLogin) Object.assign(form, { email: username, password });
    else form.decision = decision;
    step = await b.open(`${server.url}/oauth2/${isLogin ? 'login' : 'consent'}`, { form });
  }
  assert.fail('the flow did not come back to the app');
}

async function profile(accessToken: string) {
  return get(`${server.url}/oauth2/iracing/profile`, { authorization: `Bearer ${accessToken}` });
}

function noteTokens(t: { access_token: string; refresh_token?: string }) {
  noteSecret(t.access_token, t.refresh_token);
}

const discoveryOptions = () => ({
  execute: [client.allowInsecureRequests],
  algorithm: 'oauth2' as const,
});

describe('openid-client v6 against Paddock', () => {
  test('discovery reads the RFC 8414 metadata', async () => {
    const config = await client.discovery(
      new URL(server.issuer),
      PUBLIC_ID,
      undefined,
      client.None(),
      discoveryOptions(),
    );
    const md = config.serverMetadata();
    assert.equal(md.issuer, server.issuer);
    assert.equal(md.authorization_endpoint, `${server.issuer}/oauth2/authorize`);
    assert.equal(md.token_endpoint, `${server.issuer}/oauth2/token`);
    assert.ok(md.supportsPKCE());
  });

  test('public client: code flow with PKCE S256, then a refresh', async () => {
    const config = await client.discovery(
      new URL(server.issuer),
      PUBLIC_ID,
      undefined,
      client.None(),
      discoveryOptions(),
    );
    const verifier = client.randomPKCECodeVerifier();
    const challenge = await client.calculatePKCECodeChallenge(verifier);
    const state = client.randomState();
    noteSecret(verifier);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'iracing.profile',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
    });
    assert.equal(url.origin + url.pathname, `${server.issuer}/oauth2/authorize`);

    const b = new Browser();
    const callback = await userAgentFlow(b, url);
    assert.ok(callback.startsWith(`${REDIRECT}?`), callback);
    noteSecret(new URL(callback).searchParams.get('code') ?? undefined);

    const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    noteTokens(tokens);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'iracing.profile');
    assert.ok(tokens.refresh_token);
    assert.equal(tokens.expires_in, 600);
    assert.equal(decodeJwt(tokens.access_token).payload.sub, userId);
    const p1 = await profile(tokens.access_token);
    assert.equal(p1.status, 200);
    assert.deepEqual(p1.body, { iracing_name: 'John West', iracing_cust_id: 15535 });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    noteTokens(refreshed);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    assert.equal(refreshed.scope, 'iracing.profile');
    const p2 = await profile(refreshed.access_token);
    assert.equal(p2.status, 200);
    assert.equal(p2.body.iracing_cust_id, 15535);

    // The used refresh token is refused, as openid-client reports it.
    await assert.rejects(
      client.refreshTokenGrant(config, tokens.refresh_token!),
      (err: unknown) => err instanceof client.ResponseBodyError && err.error === 'invalid_grant',
    );

    // Signed in and consented: the next authorization comes straight back with a code.
    const v2 = client.randomPKCECodeVerifier();
    noteSecret(v2);
    const s2 = client.randomState();
    const again = await b.open(
      client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'iracing.profile',
        code_challenge: await client.calculatePKCECodeChallenge(v2),
        code_challenge_method: 'S256',
        state: s2,
      }).href,
    );
    assert.equal(again.status, 302);
    noteSecret(new URL(again.location!).searchParams.get('code') ?? undefined);
    const t2 = await client.authorizationCodeGrant(config, new URL(again.location!), {
      pkceCodeVerifier: v2,
      expectedState: s2,
    });
    noteTokens(t2);
    assert.equal((await profile(t2.access_token)).status, 200);
  });

  test('confidential client: client_secret_post with the masked secret', async () => {
    const config = await client.discovery(
      new URL(server.issuer),
      CONF_ID,
      undefined,
      client.ClientSecretPost(maskedSecret),
      discoveryOptions(),
    );
    const verifier = client.randomPKCECodeVerifier();
    noteSecret(verifier);
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: CONF_REDIRECT,
      scope: 'iracing.profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = await userAgentFlow(new Browser(), url);
    noteSecret(new URL(callback).searchParams.get('code') ?? undefined);
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    noteTokens(tokens);
    assert.equal((await profile(tokens.access_token)).status, 200);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    noteTokens(refreshed);
    assert.equal((await profile(refreshed.access_token)).status, 200);
  });

  test('introspection and revocation: a revoked session is inactive and its tokens fail', async () => {
    const config = await client.discovery(
      new URL(server.issuer),
      CONF_ID,
      undefined,
      client.ClientSecretPost(maskedSecret),
      discoveryOptions(),
    );
    const md = config.serverMetadata();
    assert.equal(md.introspection_endpoint, `${server.issuer}/oauth2/introspect`);
    assert.equal(md.revocation_endpoint, `${server.issuer}/oauth2/revoke`);
    const verifier = client.randomPKCECodeVerifier();
    noteSecret(verifier);
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: CONF_REDIRECT,
      scope: 'iracing.profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = await userAgentFlow(new Browser(), url);
    noteSecret(new URL(callback).searchParams.get('code') ?? undefined);
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    noteTokens(tokens);

    const live = await client.tokenIntrospection(config, tokens.access_token, {
      token_type_hint: 'access_token',
    });
    assert.equal(live.active, true);
    assert.equal(live.client_id, CONF_ID);
    assert.equal(live.sub, userId);
    assert.equal(live.scope, 'iracing.profile');
    assert.equal(live.token_type, 'Bearer');
    assert.equal(live.iracing_cust_id, 15535);
    assert.equal(live.session_id, decodeJwt(tokens.access_token).payload.session_id);

    await client.tokenRevocation(config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });

    await assert.rejects(
      client.refreshTokenGrant(config, tokens.refresh_token!),
      (err: unknown) => err instanceof client.ResponseBodyError && err.error === 'invalid_grant',
    );
    const p = await profile(tokens.access_token);
    assert.equal(p.status, 401);
    assert.equal(p.body.error, 'invalid_token');
    const dead = await client.tokenIntrospection(config, tokens.access_token);
    assert.deepEqual({ ...dead }, { active: false });
  });

  test('a user who denies: openid-client reports access_denied from the redirect', async () => {
    const config = await client.discovery(
      new URL(server.issuer),
      PUBLIC_ID,
      undefined,
      client.None(),
      discoveryOptions(),
    );
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'iracing.auth',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = await userAgentFlow(new Browser(), url, 'deny');
    await assert.rejects(
      client.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      }),
      (err: unknown) => err instanceof client.AuthorizationResponseError && err.error === 'access_denied',
    );
  });
});
