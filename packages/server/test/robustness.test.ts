// What operators rely on: tokens survive a crash, every request's log lines carry its request id, and
// nothing a client sends yields a 500.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { openStore } from '../src/store/index.ts';
import { headless, login, refresh } from './fixtures.ts';
import { post, startInProcess, startProcess, type TestServer } from './helpers.ts';

describe('durability', () => {
  test('a refresh token from a 200 response still works after the server is killed with SIGKILL', async () => {
    const first = await startProcess({ name: 'crash-1' });
    const store = await openStore(loadConfig({ PADDOCK_DATA_DIR: first.dataDir }), 0);
    const h = await headless(store);
    await store.close();
    const r = await login(first, h);
    assert.equal(r.status, 200);
    first.child.kill('SIGKILL');
    await new Promise((res) => first.child.once('exit', res));
    const second = await startProcess({ dataDir: first.dataDir, name: 'crash-2' });
    try {
      assert.equal((await refresh(second, h, r.body.refresh_token)).status, 200);
    } finally {
      await second.stop();
    }
  });
});

describe('request ids and logs', () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({ name: 'request-ids' });
  });
  after(() => server.stop());

  test('every log line of a request carries the x-request-id the client received', async () => {
    const h = await headless(server.ctx!.store);
    const r = await login(server, h);
    const id = r.headers.get('x-request-id')!;
    const bad = await post(`${server.url}/oauth2/token`, { grant_type: 'nope' });
    const badId = bad.headers.get('x-request-id')!;
    assert.notEqual(id, badId);
    await new Promise((res) => setTimeout(res, 100));
    const lines = fs
      .readFileSync(server.logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    for (const rid of [id, badId]) {
      const mine = lines.filter((l) => l.request_id === rid);
      assert.ok(mine.length >= 2, `request and response lines for ${rid}`);
      assert.ok(mine.some((l) => l.res?.status !== undefined));
    }
    for (const l of lines.filter((x) => x.req)) {
      assert.ok(l.request_id, 'request log lines carry request_id');
      assert.ok(!String(l.req.path).includes('?'), 'no query string is logged');
    }
  });

  test('a client-supplied x-request-id is not trusted', async () => {
    const r = await post(`${server.url}/oauth2/token`, { grant_type: 'x' }, { 'x-request-id': 'spoofed' });
    assert.notEqual(r.headers.get('x-request-id'), 'spoofed');
  });

  test('no input a client can send gives a 500 or a stack trace', async () => {
    const h = await headless(server.ctx!.store);
    const url = `${server.url}/oauth2/token`;
    const bodies = [
      '',
      '=',
      '&&&',
      'grant_type',
      'grant_type=%',
      'grant_type=%E0%A4%A',
      `grant_type=refresh_token&client_id=${h.clientId}&client_secret=${encodeURIComponent(h.maskedSecret)}&refresh_token=${'x'.repeat(5000)}`,
      `grant_type=password_limited&client_id=${h.clientId}&client_secret=${encodeURIComponent(h.maskedSecret)}&username=%00&password=%00`,
      `grant_type=password_limited&client_id=${h.clientId}&client_secret=${encodeURIComponent(h.maskedSecret)}&username=${'a'.repeat(3000)}&password=x`,
      'grant_type=refresh_token&client_id=__proto__&refresh_token=x',
      'grant_type=__proto__',
      'constructor=1&grant_type=toString',
    ];
    for (const body of bodies) {
      const r = await post(url, body);
      assert.ok(r.status >= 400 && r.status < 500, `${body.slice(0, 40)} -> ${r.status}`);
      assert.ok(r.body?.error, 'the book error object');
      assert.ok(!/at .*\(.*:\d+:\d+\)/.test(r.text), 'no stack trace');
    }
    for (const [method, path, headers] of [
      ['GET', '/oauth2/token', {}],
      ['PUT', '/oauth2/token', {}],
      ['POST', '/oauth2/token', { 'content-type': 'text/plain' }],
      ['POST', '/oauth2/token', { 'content-type': 'multipart/form-data; boundary=x' }],
      ['GET', '/oauth2/iracing/profile', { authorization: `Bearer ${'a'.repeat(10000)}` }],
      ['GET', '/oauth2/iracing/profile', { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' }],
      ['GET', '/oauth2/book/../../etc/passwd', {}],
    ] as const) {
      const r = await fetch(`${server.url}${path}`, {
        method,
        headers,
        body: method === 'GET' ? undefined : 'x=1',
      });
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} -> ${r.status}`);
    }
  });
});
