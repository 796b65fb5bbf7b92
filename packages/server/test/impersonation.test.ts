// Staff impersonation end to end, as support would do it: `paddock sessions impersonate` starts a
// session as the user, the user sees it (with the note) in /sessions, it cannot revoke the user's other
// sessions, and it ends by /revoke/current or by `paddock sessions revoke`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import {
  cli,
  cliOk,
  decodeJwt,
  get,
  LOG_DIR,
  noteSecret,
  post,
  startInProcess,
  type TestServer,
} from './helpers.ts';

let server: TestServer;
let h: Headless;
let env: Record<string, string>;
before(async () => {
  server = await startInProcess({ name: 'impersonation', env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '1000' } });
  h = await headless(server.ctx!.store);
  env = { PADDOCK_DATA_DIR: server.dataDir, PADDOCK_LOG_LEVEL: 'info' };
});
after(() => server.stop());

const NOTE = 'support for login test; approved by cust in #123456';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const sessionsOf = (t: string) => get(`${server.url}/oauth2/sessions`, bearer(t));

/** The staff commands' log lines join the server logs that the log audit (log-audit.test.ts) reads. */
function keepLog(stderr: string) {
  fs.mkdirSync(LOG_DIR, { recursive: true });
  fs.appendFileSync(path.join(LOG_DIR, `staff-cli-${process.pid}.log`), stderr);
}

async function impersonate(note = NOTE) {
  const r = await cliOk(
    [
      'sessions',
      'impersonate',
      '--user',
      h.username,
      '--client',
      h.clientId,
      '--note',
      note,
      '--scope',
      'iracing.auth iracing.profile',
      '--issuer',
      server.issuer,
      '--json',
    ],
    { env },
  );
  const body = r.json();
  noteSecret(body.access_token, body.refresh_token);
  keepLog(r.stderr);
  return { body, stderr: r.stderr };
}

describe('paddock sessions impersonate', () => {
  test("prints the book's token response and session id, logs the note, is listed to the user; /revoke/client refused, /revoke/current ends it", async () => {
    const own = await login(server, h);
    assert.equal(own.status, 200);
    const ownId = decodeJwt(own.body.access_token).payload.session_id;
    const { body, stderr } = await impersonate();
    assert.deepEqual(Object.keys(body).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'refresh_token_expires_in',
      'scope',
      'session_id',
      'token_type',
    ]);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'iracing.auth iracing.profile');
    const claims = decodeJwt(body.access_token).payload;
    assert.equal(claims.session_id, body.session_id);
    assert.equal(claims.sub, h.userId);
    assert.equal(claims.client_id, h.clientId);
    // The access token works at the server like the user's own.
    const profile = await get(`${server.url}/oauth2/iracing/profile`, bearer(body.access_token));
    assert.equal(profile.status, 200, profile.text);
    assert.equal(profile.body.iracing_name, 'John West');

    const line = stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'staff impersonation: session started');
    assert.ok(line, stderr);
    assert.equal(line.level, 30);
    assert.equal(line.note, NOTE);
    assert.equal(line.session_id, body.session_id);
    assert.ok(!stderr.includes(body.access_token) && !stderr.includes(body.refresh_token));

    // In the user's own /sessions, with its note; the user's session is not impersonated.

    const listed = await sessionsOf(own.body.access_token);
    assert.equal(listed.status, 200);
    const staff = listed.body.sessions.find((s: { session_id: string }) => s.session_id === body.session_id);
    assert.equal(staff.impersonated, true);
    assert.equal(staff.impersonation_note, NOTE);
    const mine = listed.body.sessions.find((s: { session_id: string }) => s.session_id === ownId);
    assert.equal(mine.impersonated, false);
    assert.equal(mine.impersonation_note, null);

    const refused = await post(`${server.url}/oauth2/revoke/client`, {}, bearer(body.access_token));
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.body.error, 'access_denied');
    assert.match(refused.body.error_description, /the session must be a user session/);
    // Nothing was revoked: the user's own session still works.
    assert.equal((await sessionsOf(own.body.access_token)).status, 200);
    assert.equal((await sessionsOf(body.access_token)).status, 200);

    const current = await post(`${server.url}/oauth2/revoke/current`, {}, bearer(body.access_token));
    assert.equal(current.status, 200, current.text);
    assert.equal((await sessionsOf(body.access_token)).body.error, 'invalid_token');
    assert.equal((await refresh(server, h, body.refresh_token)).body.error, 'invalid_grant');
    assert.equal((await sessionsOf(own.body.access_token)).status, 200);
  });
});

describe('paddock sessions list and revoke', () => {
  test("list shows the user's sessions as the book's session objects; revoke ends one and is audited", async () => {
    const own = await login(server, h);
    const ownId = decodeJwt(own.body.access_token).payload.session_id;
    const { body } = await impersonate('second look, ticket 42');

    const listed = (
      await cliOk(['sessions', 'list', '--user', h.username, '--client', h.clientId, '--json'], { env })
    ).json();
    const ids = listed.map((s: { session_id: string }) => s.session_id);
    assert.ok(ids.includes(ownId) && ids.includes(body.session_id));
    const staff = listed.find((s: { session_id: string }) => s.session_id === body.session_id);
    assert.equal(staff.impersonated, true);
    assert.equal(staff.impersonation_note, 'second look, ticket 42');
    assert.equal(staff.current_session, false);
    assert.equal(staff.client_id, h.clientId);
    assert.deepEqual(Object.keys(staff).slice(0, 3), ['session_id', 'client_id', 'client_name']);
    assert.ok('last_continent' in staff && 'first_user_agent_browser' in staff);
    // Without --client: every client's sessions of the user; the human form names the note.
    const human = await cliOk(['sessions', 'list', '--user', h.username], { env });
    assert.match(human.stdout, /impersonation_note\s+second look, ticket 42/);

    // An unknown id revokes nothing, not even the known ones given with it.
    const bad = await cli(['sessions', 'revoke', body.session_id, '00000000-0000-4000-8000-000000000000'], {
      env,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no session 00000000-0000-4000-8000-000000000000/);
    assert.equal((await sessionsOf(body.access_token)).status, 200);

    const r = await cliOk(['sessions', 'revoke', body.session_id, '--json'], { env });
    assert.deepEqual(r.json(), [{ session_id: body.session_id, status: 'revoked' }]);
    assert.match(r.stderr, /"msg":"staff revoked a session"/);
    keepLog(r.stderr);
    assert.equal((await sessionsOf(body.access_token)).body.error, 'invalid_token');
    assert.equal((await refresh(server, h, body.refresh_token)).body.error, 'invalid_grant');
    assert.equal((await sessionsOf(own.body.access_token)).status, 200, 'the user session is untouched');
    const live = await server.ctx!.store.sessions.liveOfUser(
      h.userId,
      undefined,
      Math.floor(Date.now() / 1000),
    );
    assert.ok(!live.some((s) => s.session_id === body.session_id));
    const again = await cliOk(['sessions', 'revoke', body.session_id, '--json'], { env });
    assert.deepEqual(again.json(), [{ session_id: body.session_id, status: 'already revoked' }]);

    const audit = (await cliOk(['audit', '--object', h.username, '--json'], { env })).json();
    const started = audit.filter((e: { action: string }) => e.action === 'session.impersonated');
    assert.ok(
      started.some(
        (e: { changes: { impersonation_note: string; session_id: string } }) =>
          e.changes.impersonation_note === 'second look, ticket 42' &&
          e.changes.session_id === body.session_id,
      ),
    );
    assert.equal(started[0].actor.type, 'cli');
    const revoked = await server.ctx!.store.auditLog.list({ objectId: body.session_id });
    assert.deepEqual(
      revoked.map((e) => e.action),
      ['session.revoked'],
    );
    assert.equal(JSON.parse(revoked[0]!.changes).user_id, h.userId);
  });

  test('bad input exits 1 with one line and starts no session', async () => {
    const count = async () =>
      (await server.ctx!.store.sessions.liveOfUser(h.userId, undefined, Math.floor(Date.now() / 1000)))
        .length;
    const before = await count();
    const base = ['sessions', 'impersonate', '--user', h.username, '--client', h.clientId];
    const cases: [string[], RegExp][] = [
      [base, /required option '--note <text>' not specified/],
      [[...base, '--note', '  '], /--note must say who/],
      [
        [...base, '--note', NOTE, '--scope', 'iracing.everything'],
        /--scope: scope "iracing.everything" is unknown/,
      ],
      [
        ['sessions', 'impersonate', '--user', h.username, '--client', 'no-such-client', '--note', NOTE],
        /no client no-such-client/,
      ],
      [['sessions', 'list', '--user', 'nobody@example.com'], /no user nobody@example.com/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args, { env })));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    }
    assert.equal(await count(), before);
  });
});
