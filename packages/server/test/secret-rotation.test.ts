// Rotating a client secret with an overlap: while it lasts, the old secret and the new one both
// authenticate the client at /oauth2/token; once it ends the old one gets the usual invalid_client. A
// second rotation during an overlap ends the oldest secret at once: never more than two secrets work.
// Time is moved with the injected clock. On SQLite and PostgreSQL, and through the CLI as an operator
// runs it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rotateClientSecret } from '../src/clients/rotation.ts';
import { cliActor } from '../src/jobs/audit.ts';
import { mask } from '../src/oauth/masking.ts';
import { type Headless, headless, login } from './fixtures.ts';
import {
  cli,
  cliOk,
  noteSecret,
  post,
  STORE_BACKENDS,
  startInProcess,
  TestClock,
  type TestServer,
} from './helpers.ts';

const HOUR = 3600;

const ENV = { PADDOCK_PASSWORD_LIMITED_LIMIT: '1000', PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000' };

/** The headless fixture with another secret. */
const withSecret = (h: Headless, secret: string): Headless => ({
  ...h,
  secret,
  maskedSecret: mask(secret, h.clientId),
});

for (const backend of STORE_BACKENDS) {
  describe(`secret rotation with overlap on ${backend.name}`, { skip: backend.skip }, () => {
    const clock = new TestClock();
    let server: TestServer;
    let drop: () => Promise<void>;

    before(async () => {
      const db = await backend.env();
      drop = db.cleanup;
      server = await startInProcess({ name: `rotation-${backend.name}`, clock, env: { ...db.env, ...ENV } });
    });
    after(async () => {
      await server?.stop();
      await drop?.();
    });

    const rotate = (clientId: string, overlapSeconds: number) =>
      rotateClientSecret(server.ctx!, clientId, { overlapSeconds, actor: cliActor() });

    test('both secrets work during the overlap, only the new one after it', async () => {
      const old = await headless(server.ctx!.store);
      const rotated = await rotate(old.clientId, 24 * HOUR);
      noteSecret(rotated.client_secret);
      assert.equal(rotated.previous_secret_expires_at, Math.floor(clock.now() / 1000) + 24 * HOUR);
      const fresh = withSecret(old, rotated.client_secret);

      assert.equal((await login(server, old)).status, 200, 'the old secret works during the overlap');
      assert.equal((await login(server, fresh)).status, 200, 'the new secret works at once');

      clock.advance(24 * HOUR - 5);
      assert.equal((await login(server, old)).status, 200, 'the old secret works to the end of it');
      clock.advance(5);
      const refused = await login(server, old);
      assert.equal(refused.body?.error, 'invalid_client', refused.text);
      assert.equal(refused.body.error_description, 'client_secret is not correct');
      assert.equal((await login(server, fresh)).status, 200, 'the new secret still works');
    });

    test('the old secret works at the other endpoints a client authenticates at', async () => {
      const old = await headless(server.ctx!.store);
      const tokens = await login(server, old);
      const rotated = await rotate(old.clientId, HOUR);
      const introspect = await post(`${server.url}/oauth2/introspect`, {
        client_id: old.clientId,
        client_secret: old.maskedSecret,
        token: tokens.body.access_token,
      });
      assert.notEqual(introspect.body?.error, 'invalid_client', introspect.text);
      const revoke = await post(`${server.url}/oauth2/revoke`, {
        client_id: old.clientId,
        client_secret: mask(rotated.client_secret, old.clientId),
        token: tokens.body.refresh_token,
      });
      assert.notEqual(revoke.body?.error, 'invalid_client', revoke.text);
    });

    test('without an overlap the old secret stops at once', async () => {
      const old = await headless(server.ctx!.store);
      const rotated = await rotate(old.clientId, 0);
      assert.equal(rotated.previous_secret_expires_at, null);
      assert.equal((await login(server, old)).body?.error, 'invalid_client');
      assert.equal((await login(server, withSecret(old, rotated.client_secret))).status, 200);
    });

    test('a second rotation during an overlap ends the oldest secret at once', async () => {
      const first = await headless(server.ctx!.store);
      const second = withSecret(first, (await rotate(first.clientId, 24 * HOUR)).client_secret);
      clock.advance(HOUR);
      const third = withSecret(first, (await rotate(first.clientId, 2 * HOUR)).client_secret);
      assert.equal((await login(server, first)).body?.error, 'invalid_client', 'the oldest is gone');
      assert.equal((await login(server, second)).status, 200, 'the one it replaced overlaps now');
      assert.equal((await login(server, third)).status, 200);
      clock.advance(2 * HOUR);
      assert.equal((await login(server, second)).body?.error, 'invalid_client');
      assert.equal((await login(server, third)).status, 200);
    });

    test('the old secret masked twice still gets the masked-twice explanation during the overlap', async () => {
      const old = await headless(server.ctx!.store);
      await rotate(old.clientId, HOUR);
      const r = await login(server, { ...old, maskedSecret: mask(old.maskedSecret, old.clientId) });
      assert.equal(r.body?.error, 'invalid_client');
      assert.match(r.body.error_description, /masked twice/);
    });
  });
}

describe('paddock clients rotate-secret --overlap', () => {
  const clock = new TestClock();
  let server: TestServer;
  before(async () => {
    server = await startInProcess({ name: 'rotation-cli', clock, env: ENV });
  });
  after(() => server?.stop());
  const env = () => ({ PADDOCK_DATA_DIR: server.dataDir });

  test('rotates with an overlap, shows when it ends, and the server honours it', async () => {
    const h = await headless(server.ctx!.store);
    const r = await cliOk(['clients', 'rotate-secret', h.clientId, '--overlap', '90m', '--json'], {
      env: env(),
    });
    const out = r.json();
    noteSecret(out.client_secret);
    const ends = Date.parse(out.previous_secret_valid_until);
    assert.ok(Math.abs(ends - (Date.now() + 90 * 60_000)) < 60_000, out.previous_secret_valid_until);
    const shown = (await cliOk(['clients', 'show', h.clientId, '--json'], { env: env() })).json();
    assert.equal(shown.previous_secret_valid_until, out.previous_secret_valid_until);
    assert.equal(shown.client_secret, undefined, 'the secret is shown once');
    const human = await cliOk(['clients', 'show', h.clientId], { env: env() });
    assert.match(human.stdout, /previous_secret_valid_until/);

    assert.equal((await login(server, h)).status, 200);
    assert.equal((await login(server, withSecret(h, out.client_secret))).status, 200);
    clock.advance(91 * 60);
    assert.equal((await login(server, h)).body?.error, 'invalid_client');

    const audit = (await cliOk(['audit', '--object', h.clientId, '--json'], { env: env() })).json();
    const entry = audit.find((e: any) => e.action === 'client.secret_rotated');
    assert.ok(entry, JSON.stringify(audit.slice(-3)));
    assert.equal(entry.changes.client_secret, '(changed)');
    assert.equal(entry.changes.overlap_seconds, 5400);
  });

  test('without --overlap the old secret stops at once, as before', async () => {
    const h = await headless(server.ctx!.store);
    const out = (await cliOk(['clients', 'rotate-secret', h.clientId, '--json'], { env: env() })).json();
    noteSecret(out.client_secret);
    assert.equal(out.previous_secret_valid_until, null);
    assert.equal((await login(server, h)).body?.error, 'invalid_client');
  });

  test('a bad duration is a clear error and changes nothing', async () => {
    const h = await headless(server.ctx!.store);
    for (const bad of ['24', 'soon', '-1h', '400d']) {
      const r = await cli(['clients', 'rotate-secret', h.clientId, '--overlap', bad], { env: env() });
      assert.equal(r.code, 1, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--overlap/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.equal((await login(server, h)).status, 200, 'the secret did not change');
  });
});
