// Bearer tokens at the resource endpoints: what the verifier takes and refuses, with tokens signed by
// the server's own active key (so only the claim or header under test is wrong).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Headless, headless, login } from './fixtures.ts';
import { decodeJwt, get, signEdDsaJwt, startInProcess, TestClock, type TestServer } from './helpers.ts';

let server: TestServer;
let h: Headless;
let header: Record<string, unknown>;
let payload: Record<string, unknown>;

before(async () => {
  server = await startInProcess({ name: 'bearer-verify' });
  h = await headless(server.ctx!.store);
  const r = await login(server, h, { scope: 'iracing.auth iracing.profile' });
  assert.equal(r.status, 200);
  ({ header, payload } = decodeJwt(r.body.access_token));
});
after(() => server.stop());

const profile = (token: string) =>
  get(`${server.url}/oauth2/iracing/profile`, { authorization: `Bearer ${token}` });
const signed = (hd: Record<string, unknown>, pl: Record<string, unknown>) =>
  signEdDsaJwt(hd, pl, server.ctx!.keys.activeKey()!.key);
const now = () => Math.floor(Date.now() / 1000);

describe('bearer tokens at /oauth2/iracing/profile', () => {
  test('a token with the claims the server issues, signed with its active key: 200', async () => {
    assert.equal((await profile(signed(header, payload))).status, 200);
    assert.equal((await profile(signed(header, { ...payload, nbf: now() - 5 }))).status, 200);
    assert.equal((await profile(signed(header, { ...payload, aud: 'oauth-api' }))).status, 200);
  });

  const refused: [string, () => string, RegExp][] = [
    ['a typ header (at+jwt)', () => signed({ ...header, typ: 'at+jwt' }, payload), /not valid/],
    ['a crit header', () => signed({ ...header, crit: ['exp'] }, payload), /not valid/],
    ['another alg name', () => signed({ ...header, alg: 'Ed25519' }, payload), /not valid/],
    ['an unknown kid', () => signed({ ...header, kid: 'nope' }, payload), /not valid/],
    ['no kid', () => signed({ alg: 'EdDSA' }, payload), /not valid/],
    ['another issuer', () => signed(header, { ...payload, iss: 'https://evil.example' }), /not valid/],
    ['no oauth-api audience', () => signed(header, { ...payload, aud: [h.clientId] }), /not valid/],
    ['expired', () => signed(header, { ...payload, exp: now() - 1 }), /expired/],
    ['exp as a string', () => signed(header, { ...payload, exp: String(now() + 600) }), /not valid/],
    ['nbf in the future', () => signed(header, { ...payload, nbf: now() + 600 }), /not valid/],
    ['iat as a string', () => signed(header, { ...payload, iat: 'yesterday' }), /not valid/],
    [
      "another key's signature under a known kid",
      () => signEdDsaJwt(header, payload, generateKeyPairSync('ed25519').privateKey),
      /not valid/,
    ],
    [
      'a payload that is not an object',
      () => {
        const [hd, , sig] = signed(header, payload).split('.');
        return `${hd}.${Buffer.from('[1]').toString('base64url')}.${sig}`;
      },
      /not valid/,
    ],
    ['four parts', () => `${signed(header, payload)}.x`, /not valid/],
  ];
  for (const [name, make, why] of refused) {
    test(`${name}: 401 invalid_token`, async () => {
      const r = await profile(make());
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.body.error, 'invalid_token');
      assert.match(r.body.error_description, why);
    });
  }
});

// A signature checked once is not checked again for the same token (tokens/verify.ts); everything else is.
describe('a token used before is checked again for all but its signature', () => {
  let timed: TestServer;
  const clock = new TestClock();
  before(async () => {
    timed = await startInProcess({ clock, name: 'bearer-verify-again' });
  });
  after(() => timed.stop());
  const profileAt = (token: string) =>
    get(`${timed.url}/oauth2/iracing/profile`, { authorization: `Bearer ${token}` });

  test('expiry: 200, then 401 once the clock passes exp', async () => {
    const t = await login(timed, await headless(timed.ctx!.store), { scope: 'iracing.profile' });
    assert.equal((await profileAt(t.body.access_token)).status, 200);
    clock.advance(t.body.expires_in + 1);
    const r = await profileAt(t.body.access_token);
    assert.equal(r.status, 401, r.text);
    assert.match(r.body.error_description, /expired/);
  });

  test('revocation: 200, then 401 once its session is revoked', async () => {
    const t = await login(timed, await headless(timed.ctx!.store), { scope: 'iracing.profile' });
    assert.equal((await profileAt(t.body.access_token)).status, 200);
    const { session_id } = decodeJwt(t.body.access_token).payload;
    await timed.ctx!.store.revokeSession(session_id, 'test', Math.floor(clock.now() / 1000));
    const r = await profileAt(t.body.access_token);
    assert.equal(r.status, 401, r.text);
    assert.match(r.body.error_description, /revoked/);
  });

  test('the same header and payload under another signature: refused after the good one passed', async () => {
    const t = await login(timed, await headless(timed.ctx!.store), { scope: 'iracing.profile' });
    assert.equal((await profileAt(t.body.access_token)).status, 200);
    const { header: hd, payload: pl } = decodeJwt(t.body.access_token);
    const forged = signEdDsaJwt(hd, pl, generateKeyPairSync('ed25519').privateKey);
    assert.equal((await profileAt(forged)).status, 401);
    assert.equal((await profileAt(t.body.access_token)).status, 200);
  });
});
