// password_limited rate limits and lockout: headers on every response, 400 unauthorized_client with
// Retry-After past a limit, and atomic counters that parallel requests cannot overrun.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mask } from '../src/oauth/masking.ts';
import { headless, login } from './fixtures.ts';
import { startInProcess, TestClock, type TestServer } from './helpers.ts';

describe('password_limited rate limits', () => {
  let server: TestServer;
  const clock = new TestClock();
  before(async () => {
    server = await startInProcess({
      clock,
      name: 'ratelimit',
      env: {
        PADDOCK_PASSWORD_LIMITED_LIMIT: '4',
        PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000',
        PADDOCK_PASSWORD_LIMITED_WINDOW: '60',
        PADDOCK_LOCKOUT_THRESHOLD: '100',
      },
    });
  });
  after(() => server.stop());

  test('RateLimit-* headers on every response; past the limit 400 unauthorized_client with Retry-After', async () => {
    const u = await headless(server.ctx!.store);
    const seen: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const r = await login(server, u, i === 2 ? { password: mask('wrong', u.username) } : {});
      assert.equal(r.headers.get('ratelimit-limit'), '4');
      assert.equal(r.headers.get('ratelimit-remaining'), String(4 - i));
      assert.equal(r.headers.get('ratelimit-reset'), '60');
      seen.push(String(r.status));
    }
    assert.deepEqual(seen, ['200', '401', '200', '200']);
    clock.advance(20);
    const over = await login(server, u);
    assert.equal(over.status, 400);
    assert.equal(over.body.error, 'unauthorized_client');
    assert.equal(over.body.status, 400);
    assert.equal(over.body.status_reason, 'Bad Request');
    assert.equal(over.headers.get('retry-after'), '40');
    assert.equal(over.headers.get('ratelimit-remaining'), '0');
    assert.equal(over.headers.get('ratelimit-reset'), '40');
    assert.match(over.body.error_uri, /error_unauthorized_client\.html$/);
    clock.advance(41);
    const again = await login(server, u);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('ratelimit-remaining'), '3');
  });

  test('the limit is per client and user: another user of the same client is not affected', async () => {
    const a = await headless(server.ctx!.store);
    for (let i = 0; i < 5; i++) await login(server, a);
    assert.equal((await login(server, a)).status, 400);
    const b = await headless(server.ctx!.store);
    assert.equal((await login(server, b)).status, 200);
  });

  test('errors before client authentication still carry the headers', async () => {
    const u = await headless(server.ctx!.store);
    const r = await login(server, u, { client_secret: mask('nope', u.clientId) });
    assert.equal(r.status, 403);
    assert.ok(r.headers.get('ratelimit-limit'));
  });
});

describe('per-IP limit', () => {
  test('applies across clients and users', async () => {
    const server = await startInProcess({
      name: 'ratelimit-ip',
      env: { PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '3', PADDOCK_PASSWORD_LIMITED_LIMIT: '100' },
    });
    try {
      const users = await Promise.all([1, 2, 3, 4].map(() => headless(server.ctx!.store)));
      const statuses = [];
      for (const u of users) statuses.push((await login(server, u)).status);
      assert.deepEqual(statuses, [200, 200, 200, 400]);
    } finally {
      await server.stop();
    }
  });
});

describe('lockout after repeated failures', () => {
  let server: TestServer;
  const clock = new TestClock();
  before(async () => {
    server = await startInProcess({
      clock,
      name: 'lockout',
      env: {
        PADDOCK_LOCKOUT_THRESHOLD: '5',
        PADDOCK_LOCKOUT_DURATION: '300',
        PADDOCK_PASSWORD_LIMITED_LIMIT: '1000',
        PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000',
      },
    });
  });
  after(() => server.stop());

  test('5 wrong passwords lock the user, even the right password is refused until the lock ends', async () => {
    const u = await headless(server.ctx!.store);
    for (let i = 0; i < 5; i++) {
      assert.equal((await login(server, u, { password: mask(`wrong${i}`, u.username) })).status, 401);
    }
    const locked = await login(server, u);
    assert.equal(locked.status, 400);
    assert.equal(locked.body.error, 'unauthorized_client');
    assert.match(locked.body.error_description, /locked/);
    assert.equal(locked.headers.get('retry-after'), '300');
    clock.advance(301);
    assert.equal((await login(server, u)).status, 200);
  });

  test('a success clears earlier failures', async () => {
    const u = await headless(server.ctx!.store);
    for (let i = 0; i < 4; i++) await login(server, u, { password: mask('wrong', u.username) });
    assert.equal((await login(server, u)).status, 200);
    for (let i = 0; i < 4; i++) await login(server, u, { password: mask('wrong', u.username) });
    assert.equal((await login(server, u)).status, 200);
  });

  test('20 parallel wrong passwords: exactly 5 are checked, the other 15 are locked out', async () => {
    const u = await headless(server.ctx!.store);
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => login(server, u, { password: mask(`guess${i}`, u.username) })),
    );
    const denied = rs.filter((r) => r.status === 401 && r.body.error === 'access_denied').length;
    const locked = rs.filter((r) => r.status === 400 && r.body.error === 'unauthorized_client').length;
    assert.equal(denied, 5);
    assert.equal(locked, 15);
  });

  test('20 parallel requests never exceed the per client+user rate limit', async () => {
    const s = await startInProcess({
      name: 'ratelimit-parallel',
      env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '7', PADDOCK_LOCKOUT_THRESHOLD: '1000' },
    });
    try {
      const u = await headless(s.ctx!.store);
      const rs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => login(s, u, { password: mask(`guess${i}`, u.username) })),
      );
      assert.equal(rs.filter((r) => r.status === 401).length, 7);
      assert.equal(rs.filter((r) => r.status === 400).length, 13);
      const remaining = rs.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((a, b) => a - b);
      assert.deepEqual(remaining.slice(-7), [0, 1, 2, 3, 4, 5, 6]);
    } finally {
      await s.stop();
    }
  });
});
