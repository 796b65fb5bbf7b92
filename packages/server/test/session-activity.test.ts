// The book's last_activity: moved by token issuance and by the server's own bearer endpoints, which
// write it at most once per session per minute (with the last IP and user agent).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type Headless, headless, passwordForm } from './fixtures.ts';
import { decodeJwt, get, noteSecret, post, startInProcess, TestClock, type TestServer } from './helpers.ts';

const clock = new TestClock();
let server: TestServer;
let h: Headless;
before(async () => {
  server = await startInProcess({
    name: 'session-activity',
    clock,
    env: { PADDOCK_TRUST_PROXY: '127.0.0.1', PADDOCK_PASSWORD_LIMITED_LIMIT: '1000' },
  });
  h = await headless(server.ctx!.store);
});
after(() => server.stop());

const from = (ip: string, ua: string) => ({ 'x-forwarded-for': ip, 'user-agent': ua });
const bearer = (t: string, ip: string, ua: string) => ({ authorization: `Bearer ${t}`, ...from(ip, ua) });
const nowSeconds = () => Math.floor(clock.now() / 1000);

let access: string;
let refreshToken: string;
let sessionId: string;
let start: number;
const stored = async () => (await server.ctx!.store.getSession(sessionId))!;

beforeEach(async () => {
  const r = await post(
    `${server.url}/oauth2/token`,
    passwordForm(h, { scope: 'iracing.auth iracing.profile' }),
    from('198.51.100.1', 'agent-signin'),
  );
  assert.equal(r.status, 200, r.text);
  noteSecret(r.body.access_token, r.body.refresh_token);
  access = r.body.access_token;
  refreshToken = r.body.refresh_token;
  sessionId = decodeJwt(access).payload.session_id;
  start = nowSeconds();
});

describe('last_activity', () => {
  test('bearer endpoints write it at most once a minute, with the last IP and user agent', async () => {
    const s0 = await stored();
    assert.equal(s0.last_activity, start);
    assert.equal(s0.last_ip, '198.51.100.1');

    // Within the first minute: no write, however many requests.
    clock.advance(30);
    for (let i = 0; i < 5; i++) {
      const r = await get(
        `${server.url}/oauth2/iracing/profile`,
        bearer(access, '203.0.113.9', `early-${i}`),
      );
      assert.equal(r.status, 200, r.text);
    }
    assert.deepEqual(
      [(await stored()).last_activity, (await stored()).last_user_agent],
      [start, 'agent-signin'],
    );

    // A minute after the last write: the next request writes, the ones after it in that minute do not.
    clock.advance(30);
    const r1 = await get(`${server.url}/oauth2/sessions`, bearer(access, '203.0.113.10', 'agent-minute-1'));
    assert.equal(r1.status, 200, r1.text);
    const s1 = await stored();
    assert.equal(s1.last_activity, start + 60);
    assert.equal(s1.last_ip, '203.0.113.10');
    assert.equal(s1.last_user_agent, 'agent-minute-1');
    assert.equal(s1.first_ip, '198.51.100.1', 'the first IP stays');
    // The session object shows the written activity.
    const mine = r1.body.sessions.find((x: { current_session: boolean }) => x.current_session);
    assert.equal(mine.last_ip, '203.0.113.10');

    clock.advance(59);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        get(`${server.url}/oauth2/iracing/profile`, bearer(access, '203.0.113.11', `busy-${i}`)),
      ),
    );
    const s2 = await stored();
    assert.equal(s2.last_activity, start + 60);
    assert.equal(s2.last_user_agent, 'agent-minute-1');

    clock.advance(1);
    const r2 = await get(
      `${server.url}/oauth2/iracing/profile`,
      bearer(access, '203.0.113.12', 'agent-minute-2'),
    );
    assert.equal(r2.status, 200);
    const s3 = await stored();
    assert.equal(s3.last_activity, start + 120);
    assert.equal(s3.last_ip, '203.0.113.12');
    assert.equal(s3.last_user_agent, 'agent-minute-2');
  });

  test('concurrent requests of a stale session write once between them', async () => {
    clock.advance(120);
    const t = nowSeconds();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        server.ctx!.store.sessions.touch(sessionId, t, `192.0.2.${i + 1}`, `racer-${i}`, t - 59),
      ),
    );
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal((await stored()).last_activity, t);
  });

  test('/revoke/* count as activity before they act', async () => {
    clock.advance(90);
    const r = await post(
      `${server.url}/oauth2/revoke/current`,
      {},
      bearer(access, '203.0.113.20', 'agent-revoke'),
    );
    assert.equal(r.status, 200, r.text);
    const s = await stored();
    assert.notEqual(s.revoked_at, null);
    assert.equal(s.last_activity, start + 90);
    assert.equal(s.last_user_agent, 'agent-revoke');
  });

  test('token issuance (a refresh) moves it at once, without the minute', async () => {
    clock.advance(5);
    const r = await post(
      `${server.url}/oauth2/token`,
      {
        grant_type: 'refresh_token',
        client_id: h.clientId,
        client_secret: h.maskedSecret,
        refresh_token: refreshToken,
      },
      from('203.0.113.30', 'agent-refresh'),
    );
    assert.equal(r.status, 200, r.text);
    noteSecret(r.body.access_token, r.body.refresh_token);
    const s = await stored();
    assert.equal(s.last_activity, start + 5);
    assert.equal(s.last_ip, '203.0.113.30');
    assert.equal(s.last_user_agent, 'agent-refresh');
  });
});
