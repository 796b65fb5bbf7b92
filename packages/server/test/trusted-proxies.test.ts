// Trusted proxies: the client IP comes from the socket unless the operator names the proxies in front of
// Paddock (PADDOCK_TRUST_PROXY, a hop count or addresses/CIDRs); then it is the right-most X-Forwarded-For
// entry that is not a trusted proxy. A client cannot pick its own rate-limit bucket or session IP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { type Headless, headless, passwordForm } from './fixtures.ts';
import { get, type HttpResult, noteSecret, post, startInProcess, type TestServer } from './helpers.ts';

/** A password_limited sign-in as if it came through proxies that wrote this X-Forwarded-For. */
async function loginVia(server: TestServer, h: Headless, forwardedFor?: string): Promise<HttpResult> {
  const headers: Record<string, string> = forwardedFor ? { 'x-forwarded-for': forwardedFor } : {};
  const r = await post(`${server.url}/oauth2/token`, passwordForm(h), headers);
  if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
  return r;
}

/** The first_ip of the session a token belongs to, as /sessions reports it. */
async function firstIp(server: TestServer, accessToken: string): Promise<string> {
  const r = await get(`${server.url}/oauth2/sessions`, { authorization: `Bearer ${accessToken}` });
  assert.equal(r.status, 200, r.text);
  const current = r.body.sessions.find((s: { current_session: boolean }) => s.current_session);
  return current.first_ip;
}

/** A server with one password_limited request per IP per window, and the given PADDOCK_TRUST_PROXY. */
function serverTrusting(trust: string | undefined): Promise<TestServer> {
  return startInProcess({
    name: 'trusted-proxies',
    env: {
      PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1',
      PADDOCK_PASSWORD_LIMITED_LIMIT: '1000',
      ...(trust === undefined ? {} : { PADDOCK_TRUST_PROXY: trust }),
    },
  });
}

describe('PADDOCK_TRUST_PROXY values', () => {
  test('unset, empty, 0 or false trust no proxy', () => {
    for (const v of [undefined, '', '0', 'false']) {
      assert.equal(
        loadConfig(v === undefined ? {} : { PADDOCK_TRUST_PROXY: v }).trustProxy,
        false,
        String(v),
      );
    }
  });
  test('a hop count, or a list of addresses and CIDR ranges', () => {
    assert.equal(loadConfig({ PADDOCK_TRUST_PROXY: '1' }).trustProxy, 1);
    assert.equal(loadConfig({ PADDOCK_TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ PADDOCK_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8' }).trustProxy, [
      '10.0.0.0/8',
      '127.0.0.1',
      '::1',
      'fd00::/8',
    ]);
  });
  const refused: [string, RegExp][] = [
    ['true', /every hop.*X-Forwarded-For.*e\.g\. 1.*10\.0\.0\.0\/8/],
    ['yes', /every hop/],
    ['10.0.0.0/33', /"10\.0\.0\.0\/33" is not an IP address or CIDR range/],
    ['fd00::/129', /"fd00::\/129"/],
    ['10.0.0.0/x', /"10\.0\.0\.0\/x"/],
    ['10.0.0', /"10\.0\.0"/],
    ['10.0.0.1,', /"" is not an IP address/],
    ['proxy.internal', /"proxy\.internal"/],
    ['1.5', /"1\.5"/],
  ];
  for (const [value, why] of refused) {
    test(`refuses ${JSON.stringify(value)} with one line naming the variable`, () => {
      assert.throws(
        () => loadConfig({ PADDOCK_TRUST_PROXY: value }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.message.startsWith('PADDOCK_TRUST_PROXY: ') &&
          why.test(e.message) &&
          !e.message.includes('\n'),
      );
    });
  }
});

describe('without PADDOCK_TRUST_PROXY, X-Forwarded-For changes nothing', () => {
  let server: TestServer;
  before(async () => {
    server = await serverTrusting(undefined);
  });
  after(() => server.stop());

  test('the session records the socket address, and the header does not open a new rate-limit bucket', async () => {
    const a = await headless(server.ctx!.store);
    const b = await headless(server.ctx!.store);
    const first = await loginVia(server, a, '203.0.113.1');
    assert.equal(first.status, 200, first.text);
    assert.equal(await firstIp(server, first.body.access_token), '127.0.0.1');
    // The per-IP limit is 1: another user claiming another address is still in the same bucket.
    const second = await loginVia(server, b, '203.0.113.2');
    assert.equal(second.status, 400, second.text);
    assert.equal(second.body.error, 'unauthorized_client');
  });
});

describe('PADDOCK_TRUST_PROXY=1: one proxy in front, its X-Forwarded-For entry is the client', () => {
  let server: TestServer;
  before(async () => {
    server = await serverTrusting('1');
  });
  after(() => server.stop());

  test('the last X-Forwarded-For entry is the client IP; what the client prepended is ignored', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => headless(server.ctx!.store)));
    const first = await loginVia(server, a!, '198.51.100.7, 203.0.113.9');
    assert.equal(first.status, 200, first.text);
    assert.equal(await firstIp(server, first.body.access_token), '203.0.113.9');
    // Another client address is another bucket...
    const other = await loginVia(server, b!, '203.0.113.10');
    assert.equal(other.status, 200, other.text);
    assert.equal(await firstIp(server, other.body.access_token), '203.0.113.10');
    // ...but prepending a made-up address does not leave the bucket the proxy put the client in.
    const spoofed = await loginVia(server, c!, '192.0.2.55, 203.0.113.9');
    assert.equal(spoofed.status, 400, spoofed.text);
    assert.equal(spoofed.body.error, 'unauthorized_client');
  });
});

describe('PADDOCK_TRUST_PROXY as addresses: only trusted hops are skipped', () => {
  let server: TestServer;
  before(async () => {
    server = await serverTrusting('127.0.0.1,10.0.0.0/8');
  });
  after(() => server.stop());

  test('the right-most untrusted X-Forwarded-For entry is the client IP', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => headless(server.ctx!.store)));
    // client -> 10.1.2.3 (trusted inner proxy) -> 127.0.0.1 (the socket, trusted).
    const first = await loginVia(server, a!, '198.51.100.7, 203.0.113.20, 10.1.2.3');
    assert.equal(first.status, 200, first.text);
    assert.equal(await firstIp(server, first.body.access_token), '203.0.113.20');
    const second = await loginVia(server, b!, '203.0.113.21');
    assert.equal(second.status, 200, second.text);
    assert.equal(await firstIp(server, second.body.access_token), '203.0.113.21');
    // An untrusted hop ends the walk: what lies before it is the client's own claim.
    const spoofed = await loginVia(server, c!, '10.9.9.9, 203.0.113.20');
    assert.equal(spoofed.status, 400, spoofed.text);
  });
});
