// A refresh token is a JWT signed by the same keys as access tokens, so it says what it is: its header
// carries typ "rt+jwt", and no verifier (the server's, the SDK's, or jose checking typ) takes it for an
// access token. Access tokens keep exactly the book's header: kid, alg, jku.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifyAccessToken } from '@paddock/client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { headless, login } from './fixtures.ts';
import { decodeJwt, get, startInProcess, type TestServer } from './helpers.ts';

describe('refresh tokens are typed rt+jwt', () => {
  let server: TestServer;
  let access: string;
  let refresh: string;
  before(async () => {
    server = await startInProcess({ name: 'token-types' });
    const r = await login(server, await headless(server.ctx!.store), { scope: 'iracing.profile' });
    assert.equal(r.status, 200, r.text);
    access = r.body.access_token;
    refresh = r.body.refresh_token;
  });
  after(() => server.stop());

  test("the headers: rt+jwt on the refresh token, the book's three fields on the access token", () => {
    assert.deepEqual(Object.keys(decodeJwt(access).header).sort(), ['alg', 'jku', 'kid']);
    const header = decodeJwt(refresh).header;
    assert.equal(header.typ, 'rt+jwt');
    assert.equal(header.alg, 'EdDSA');
  });

  test('jose verifying a JWT with a typ check refuses the refresh token for its typ alone', async () => {
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    await assert.rejects(jwtVerify(refresh, jwks, { issuer: server.issuer, typ: 'JWT' }), (e: unknown) => {
      const err = e as { code?: string; claim?: string };
      return err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && err.claim === 'typ';
    });
    // Its signature and issuer are sound: only its type sets it apart.
    await jwtVerify(refresh, jwks, { issuer: server.issuer, typ: 'rt+jwt' });
  });

  test("the SDK's verifyAccessToken refuses the refresh token and accepts the access token", async () => {
    const options = { issuer: server.issuer, allowInsecureLoopback: true };
    const ok = await verifyAccessToken(access, options);
    assert.equal(ok.payload.iss, server.issuer);
    await assert.rejects(verifyAccessToken(refresh, options), { name: 'TokenVerificationError' });
  });

  test('/iracing/profile and /sessions refuse the refresh token as a bearer token', async () => {
    const bearer = { authorization: `Bearer ${refresh}` };
    for (const path of ['/oauth2/iracing/profile', '/oauth2/sessions']) {
      const r = await get(`${server.url}${path}`, bearer);
      assert.equal(r.status, 401, `${path}: ${r.text}`);
      assert.equal(r.body.error, 'invalid_token', path);
    }
    const ok = await get(`${server.url}/oauth2/iracing/profile`, { authorization: `Bearer ${access}` });
    assert.equal(ok.status, 200, ok.text);
  });
});
