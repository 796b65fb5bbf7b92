// The book's Session Management section: what /revoke/current, /revoke/sessions and /revoke/client
// accept as input, over HTTP on SQLite and PostgreSQL, and the parsing rules without a server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseForgetBrowser, parseSessionIds } from '../src/sessions/revoke.ts';
import { assertBookError } from './assertions.ts';
import { type Headless, headless, login } from './fixtures.ts';
import { createPgDatabase, decodeJwt, get, pgSkip, startInProcess, type TestServer } from './helpers.ts';

function suite(env: () => Promise<{ env: Record<string, string>; drop?: () => Promise<void> }>) {
  let server: TestServer;
  let h: Headless;
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    const e = await env();
    drop = e.drop;
    server = await startInProcess({ name: 'session-management', env: e.env });
    h = await headless(server.ctx!.store);
  });
  after(async () => {
    await server.stop();
    await drop?.();
  });

  const signIn = async () => (await login(server, h)).body.access_token as string;
  const isLive = async (token: string) =>
    (await get(`${server.url}/oauth2/sessions`, { authorization: `Bearer ${token}` })).status === 200;
  const send = async (path: string, token: string, init: { type?: string; body?: string } = {}) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (init.type) headers['content-type'] = init.type;
    const res = await fetch(`${server.url}/oauth2/revoke/${path}`, {
      method: 'POST',
      headers,
      body: init.body,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
  };
  const FORM = 'application/x-www-form-urlencoded';

  test('/revoke/sessions: no body, a JSON or text body, or a control character is invalid_request and revokes nothing', async () => {
    const token = await signIn();
    const id = decodeJwt(token).payload.session_id;
    for (const init of [
      {},
      { type: FORM },
      { type: 'application/json', body: JSON.stringify({ session_ids: id }) },
      { type: 'text/plain', body: `session_ids=${id}` },
      { type: FORM, body: `session_ids=${id}%00` },
      { type: FORM, body: `session_ids=${id}&session_ids=${id}` },
    ]) {
      await assertBookError(server.issuer, await send('sessions', token, init), 400, 'invalid_request');
    }
    assert.ok(await isLive(token));
    assert.equal((await send('sessions', token, { type: FORM, body: `session_ids=${id}` })).status, 200);
    assert.ok(!(await isLive(token)));
  });

  test('/revoke/current and /revoke/client take no required parameter: no body is fine, another media type is not', async () => {
    for (const path of ['current', 'client']) {
      const token = await signIn();
      for (const init of [
        { type: 'application/json', body: '{}' },
        { type: 'text/plain', body: 'forget_browser=true' },
        { type: FORM, body: 'forget_browser=%00' },
      ]) {
        await assertBookError(server.issuer, await send(path, token, init), 400, 'invalid_request');
      }
      assert.ok(await isLive(token), `${path}: a refused request revokes nothing`);
      const r = await send(path, token);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, '');
      assert.ok(!(await isLive(token)));
    }
  });
}

describe('session management input on SQLite', () => suite(async () => ({ env: {} })));

describe('session management input on PostgreSQL', { skip: pgSkip }, () =>
  suite(async () => {
    const db = await createPgDatabase();
    return { env: { DATABASE_URL: db.url }, drop: db.drop };
  }),
);

describe('the parameters, without a server', () => {
  const id = '6f0c1f0e-8d7e-4d1c-9a57-5a3bb3c0d1aa';
  const other = '00000000-0000-4000-8000-000000000000';

  test('session_ids: comma-separated session ids, spaces trimmed, duplicates once', () => {
    assert.deepEqual(parseSessionIds(id), [id]);
    assert.deepEqual(parseSessionIds(`${id}, ${other},${id}`), [id, other]);
  });

  test('session_ids: missing, empty entries or anything but a session id is invalid_request', () => {
    for (const raw of [
      undefined,
      '',
      ',',
      `${id},`,
      `${id},,${other}`,
      'x',
      id.toUpperCase(),
      `${id};${other}`,
    ]) {
      assert.throws(() => parseSessionIds(raw), { error: 'invalid_request' }, String(raw));
    }
  });

  test('forget_browser: absent or false is false, true is true, anything else is invalid_request', () => {
    assert.equal(parseForgetBrowser(undefined), false);
    assert.equal(parseForgetBrowser('false'), false);
    assert.equal(parseForgetBrowser('true'), true);
    for (const raw of ['', 'TRUE', 'yes', '1', 'true ']) {
      assert.throws(() => parseForgetBrowser(raw), { error: 'invalid_request' }, raw);
    }
  });
});
