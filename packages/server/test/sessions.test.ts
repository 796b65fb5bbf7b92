// The book's Session Management endpoints over HTTP: /sessions, /revoke/current, /revoke/sessions,
// /revoke/client.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { decodeJwt, get, post, startInProcess, type TestServer } from './helpers.ts';

let server: TestServer;
let h: Headless;
before(async () => {
  server = await startInProcess({ name: 'sessions', env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '1000' } });
  h = await headless(server.ctx!.store);
});
after(() => server.stop());

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const sessionsOf = async (t: string) => get(`${server.url}/oauth2/sessions`, bearer(t));
const revoke = (what: string, t: string, form: Record<string, string> = {}) =>
  post(`${server.url}/oauth2/revoke/${what}`, form, bearer(t));

describe('/sessions', () => {
  test("lists the user's live sessions with this client, in the book's shape", async () => {
    const a = await login(server, h, { scope: 'iracing.auth iracing.profile' });
    const b = await login(server, h);
    const other = await headless(server.ctx!.store);
    await login(server, other);
    const r = await sessionsOf(a.body.access_token);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const ids = r.body.sessions.map((s: { session_id: string }) => s.session_id);
    assert.ok(ids.includes(decodeJwt(a.body.access_token).payload.session_id));
    assert.ok(ids.includes(decodeJwt(b.body.access_token).payload.session_id));
    const mine = r.body.sessions.find((s: { current_session: boolean }) => s.current_session);
    assert.deepEqual(Object.keys(mine), [
      'session_id',
      'client_id',
      'client_name',
      'client_developer_name',
      'client_developer_url',
      'client_developer_email',
      'scope',
      'scope_descriptions',
      'auth_time',
      'last_activity',
      'session_expiration',
      'current_session',
      'impersonated',
      'impersonation_note',
      'first_ip',
      'first_continent',
      'first_country',
      'first_subdivisions',
      'first_city',
      'first_user_agent_header',
      'first_user_agent_operating_system',
      'first_user_agent_browser',
      'last_ip',
      'last_continent',
      'last_country',
      'last_subdivisions',
      'last_city',
      'last_user_agent_header',
      'last_user_agent_operating_system',
      'last_user_agent_browser',
    ]);
    assert.equal(mine.client_id, h.clientId);
    assert.equal(mine.scope, 'iracing.auth iracing.profile');
    assert.deepEqual(mine.scope_descriptions, [
      'Authorization for iRacing services.',
      'Access to the iRacing profile.',
    ]);
    assert.equal(mine.impersonated, false);
    assert.equal(mine.first_ip, '127.0.0.1');
    assert.equal(r.body.sessions.filter((s: { current_session: boolean }) => s.current_session).length, 1);
    const noScope = r.body.sessions.find(
      (s: { session_id: string }) => s.session_id === decodeJwt(b.body.access_token).payload.session_id,
    );
    assert.equal(noScope.scope, null);
    assert.equal(noScope.scope_descriptions, null);
  });

  test('user agents are parsed into operating system and browser', async () => {
    const ua =
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/115.0.0.0 Safari/537.36';
    const r = await post(
      `${server.url}/oauth2/token`,
      {
        grant_type: 'password_limited',
        client_id: h.clientId,
        client_secret: h.maskedSecret,
        username: h.username,
        password: h.maskedPassword,
      },
      { 'user-agent': ua },
    );
    const list = await sessionsOf(r.body.access_token);
    const me = list.body.sessions.find((s: { current_session: boolean }) => s.current_session);
    assert.equal(me.first_user_agent_header, ua);
    assert.equal(me.first_user_agent_operating_system, 'Linux');
    assert.equal(me.first_user_agent_browser, 'Chrome');
  });

  test('needs a valid bearer token', async () => {
    const r = await get(`${server.url}/oauth2/sessions`);
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_token');
    assert.match(r.headers.get('www-authenticate') ?? '', /Bearer error="invalid_token"/);
  });
});

describe('/revoke/current', () => {
  test('revokes the calling session only; its tokens stop working', async () => {
    const a = await login(server, h, { scope: 'iracing.profile' });
    const b = await login(server, h, { scope: 'iracing.profile' });
    const r = await revoke('current', a.body.access_token, { forget_browser: 'true' });
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
    assert.equal(
      (await get(`${server.url}/oauth2/iracing/profile`, bearer(a.body.access_token))).status,
      401,
    );
    assert.equal((await refresh(server, h, a.body.refresh_token)).body.error, 'invalid_grant');
    assert.equal(
      (await get(`${server.url}/oauth2/iracing/profile`, bearer(b.body.access_token))).status,
      200,
    );
  });

  test('forget_browser must be true or false; a bad value changes nothing', async () => {
    const a = await login(server, h, { scope: 'iracing.profile' });
    const r = await revoke('current', a.body.access_token, { forget_browser: 'yes' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_request');
    assert.equal(
      (await get(`${server.url}/oauth2/iracing/profile`, bearer(a.body.access_token))).status,
      200,
    );
  });
});

describe('/revoke/sessions', () => {
  test('revokes the listed sessions of this user and client', async () => {
    const a = await login(server, h);
    const b = await login(server, h);
    const c = await login(server, h);
    const id = (t: { body: { access_token: string } }) => decodeJwt(t.body.access_token).payload.session_id;
    const r = await revoke('sessions', a.body.access_token, { session_ids: `${id(b)},${id(c)}` });
    assert.equal(r.status, 200);
    const left = (await sessionsOf(a.body.access_token)).body.sessions.map(
      (s: { session_id: string }) => s.session_id,
    );
    assert.ok(left.includes(id(a)));
    assert.ok(!left.includes(id(b)));
    assert.ok(!left.includes(id(c)));
  });

  test("another user's session, an unknown id or a malformed list changes nothing", async () => {
    const a = await login(server, h);
    const mine = await login(server, h);
    const other = await headless(server.ctx!.store);
    const theirs = await login(server, other);
    const id = (t: { body: { access_token: string } }) => decodeJwt(t.body.access_token).payload.session_id;
    for (const ids of [
      `${id(mine)},${id(theirs)}`,
      `${id(mine)},00000000-0000-0000-0000-000000000000`,
      'x,y',
      '',
    ]) {
      const r = await revoke('sessions', a.body.access_token, ids ? { session_ids: ids } : {});
      assert.equal(r.status, 400, ids);
      assert.equal(r.body.error, 'invalid_request');
    }
    const left = (await sessionsOf(a.body.access_token)).body.sessions.map(
      (s: { session_id: string }) => s.session_id,
    );
    assert.ok(left.includes(id(mine)));
    assert.equal((await sessionsOf(theirs.body.access_token)).status, 200);
  });
});

describe('/revoke/client', () => {
  test("revokes every session of the user with this client, and no one else's", async () => {
    const u = await headless(server.ctx!.store);
    const a = await login(server, u);
    const b = await login(server, u);
    const bystander = await login(server, h);
    const r = await revoke('client', a.body.access_token);
    assert.equal(r.status, 200);
    for (const t of [a, b])
      assert.equal((await refresh(server, u, t.body.refresh_token)).body.error, 'invalid_grant');
    assert.equal((await sessionsOf(bystander.body.access_token)).status, 200);
  });
});

describe('session ids', () => {
  test('a session id is a UUID that begins with the time the session began (version 7), so later ones sort after earlier ones', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await login(server, h);
      assert.equal(r.status, 200, r.text);
      ids.push(decodeJwt(r.body.access_token).payload.session_id);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (const id of ids)
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual([...ids].sort(), ids);
    const began = Number.parseInt(ids[0]!.replaceAll('-', '').slice(0, 12), 16);
    assert.ok(Math.abs(began - Date.now()) < 60_000, `the id says ${new Date(began).toISOString()}`);
  });
});
