// A refresh token is a JWT that only the server checks (by its hash): its header carries typ "rt+jwt"
// and alg HS256 under a key of the server's own, so no verifier (the server's, the SDK's, or jose with
// the published keys) takes it for an access token. Access tokens keep exactly the book's header: kid,
// alg, jku.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { verifyAccessToken } from '@paddock/client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { offloadSignatures, signJwt } from '../src/tokens/jwt.ts';
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
    assert.deepEqual(header, { alg: 'HS256', typ: 'rt+jwt' });
    // Readable by the clients that decode it for its expiry, and never past its session.
    const { payload } = decodeJwt(refresh);
    assert.equal(payload.iss, server.issuer);
    assert.equal(payload.exp - payload.iat, 7 * 24 * 3600);
  });

  test('jose verifying with the published keys refuses the refresh token, whatever it allows', async () => {
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    // A JWKS of Ed25519 keys has no key for HS256: jose refuses before any signature check.
    await assert.rejects(jwtVerify(refresh, jwks, { issuer: server.issuer }), {
      code: 'ERR_JOSE_NOT_SUPPORTED',
    });
    await assert.rejects(
      jwtVerify(refresh, jwks, { issuer: server.issuer, typ: 'rt+jwt', algorithms: ['HS256', 'EdDSA'] }),
    );
    // The access token of the same response verifies with the same keys and options.
    const access_ = await jwtVerify(access, jwks, { issuer: server.issuer });
    assert.equal(access_.protectedHeader.alg, 'EdDSA');
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

describe('EdDSA signatures on the event loop and on the thread pool', () => {
  after(() => offloadSignatures(true));
  for (const offloaded of [true, false]) {
    test(`offloaded: ${offloaded}: jose verifies what signJwt signs`, async () => {
      offloadSignatures(offloaded);
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const token = await signJwt({ alg: 'EdDSA', kid: 'k' }, { sub: 'x', iat: 1 }, privateKey);
      const { payload } = await jwtVerify(token, publicKey);
      assert.equal(payload.sub, 'x');
    });
  }
});

describe('JWT headers', () => {
  test('a header object that is not frozen is encoded as it is at each signature', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const header: Record<string, unknown> = { alg: 'EdDSA', kid: 'first' };
    const before = await signJwt(header, { sub: 'x' }, privateKey);
    header.kid = 'second';
    const after = await signJwt(header, { sub: 'y' }, privateKey);
    assert.equal(decodeJwt(before).header.kid, 'first');
    assert.equal(decodeJwt(after).header.kid, 'second');
    assert.equal((await jwtVerify(after, publicKey)).protectedHeader.kid, 'second');
  });

  test('a frozen header signs every token with it, each with its own payload', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const header = Object.freeze({ alg: 'EdDSA', kid: 'k', jku: 'https://example.test/jwks' });
    for (const sub of ['a', 'b']) {
      const { payload, protectedHeader } = await jwtVerify(
        await signJwt(header, { sub }, privateKey),
        publicKey,
      );
      assert.deepEqual(protectedHeader, { alg: 'EdDSA', kid: 'k', jku: 'https://example.test/jwks' });
      assert.equal(payload.sub, sub);
    }
  });
});
