// Rotation that survives a lost response (PADDOCK_REFRESH_REUSE_GRACE): within the grace period, the
// refresh token just rotated may be presented again, once, while its successor is unused: the successor
// dies and a fresh pair is issued. Every other reuse still revokes the session, and without a grace
// period (the default) the retry revokes it as the book's single use demands. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertBookError, assertTokenResponse } from './assertions.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { decodeJwt, get, STORE_BACKENDS, startInProcess, TestClock, type TestServer } from './helpers.ts';

const GRACE = 30;

for (const backend of STORE_BACKENDS) {
  describe(`refresh reuse grace on ${backend.name}`, { skip: backend.skip }, () => {
    const clock = new TestClock();
    let server: TestServer;
    let strict: TestServer;
    let h: Headless;
    let cleanup: () => Promise<void>;

    before(async () => {
      const db = await backend.env();
      cleanup = db.cleanup;
      server = await startInProcess({
        name: `grace-${backend.name}`,
        clock,
        env: { ...db.env, PADDOCK_REFRESH_REUSE_GRACE: String(GRACE) },
      });
      // A second server on the same database (and master key), with the default: no grace.
      strict = await startInProcess({
        name: `strict-${backend.name}`,
        clock,
        env: db.env,
        dataDir: server.dataDir,
      });
      h = await headless(server.ctx!.store);
    });
    after(async () => {
      await strict?.stop();
      await server?.stop();
      await cleanup?.();
    });

    const assertError = (r: { status: number; body: any; headers: Headers }, d: RegExp, s = server) =>
      assertBookError(s.issuer, r, 400, 'invalid_grant', d);
    const profile = (s: TestServer, accessToken: string) =>
      get(`${s.url}/oauth2/iracing/profile`, { authorization: `Bearer ${accessToken}` });

    /** A session whose first refresh was answered, but the answer never reached the client. */
    async function lostRotation(s: TestServer = server) {
      const first = await login(s, h, { scope: 'iracing.profile' });
      assert.equal(first.status, 200, first.text);
      const lost = await refresh(s, h, first.body.refresh_token);
      assert.equal(lost.status, 200, lost.text);
      return { first: first.body, lost: lost.body };
    }

    test('discovery advertises the grace period; a server without one does not', async () => {
      const r = await get(`${server.url}/.well-known/oauth-authorization-server`);
      assert.equal(r.body.refresh_token_reuse_grace_seconds, GRACE);
      const s = await get(`${strict.url}/.well-known/oauth-authorization-server`);
      assert.equal(s.status, 200);
      assert.ok(!('refresh_token_reuse_grace_seconds' in s.body));
    });

    test('the retried token gets a fresh rotation once; the unused successor is dead', async () => {
      const { first, lost } = await lostRotation();
      clock.advance(GRACE - 1);
      const retry = await refresh(server, h, first.refresh_token);
      assertTokenResponse(retry, { scope: 'iracing.profile' });
      assert.notEqual(retry.body.refresh_token, lost.refresh_token);
      const sessionId = decodeJwt(first.access_token).payload.session_id;
      assert.equal(decodeJwt(retry.body.access_token).payload.session_id, sessionId);
      assert.equal((await profile(server, retry.body.access_token)).status, 200);
      // The fresh pair rotates as usual.
      const next = await refresh(server, h, retry.body.refresh_token);
      assert.equal(next.status, 200, next.text);
      // The successor whose answer was lost can never be used: if it turns up, someone else has it.
      await assertError(await refresh(server, h, lost.refresh_token), /already used.*revoked/);
      await assertError(await refresh(server, h, next.body.refresh_token), /revoked/);
    });

    test('a third presentation of the same token revokes the session', async () => {
      const { first } = await lostRotation();
      const retry = await refresh(server, h, first.refresh_token);
      assert.equal(retry.status, 200, retry.text);
      await assertError(await refresh(server, h, first.refresh_token), /already used.*revoked/);
      await assertError(await refresh(server, h, retry.body.refresh_token), /revoked/);
      assert.equal((await profile(server, retry.body.access_token)).status, 401);
    });

    test('a token whose successor was used (an older ancestor) revokes the session', async () => {
      const { first, lost } = await lostRotation();
      const second = await refresh(server, h, lost.refresh_token);
      assert.equal(second.status, 200, second.text);
      // `first` was rotated 2 steps ago and `second` is unused, but `first`'s own successor was used.
      await assertError(await refresh(server, h, first.refresh_token), /already used.*revoked/);
      await assertError(await refresh(server, h, second.body.refresh_token), /revoked/);
    });

    test('after the grace period the retry revokes the session', async () => {
      const { first, lost } = await lostRotation();
      clock.advance(GRACE + 1);
      await assertError(await refresh(server, h, first.refresh_token), /already used.*revoked/);
      await assertError(await refresh(server, h, lost.refresh_token), /revoked/);
    });

    test('without a grace period (the default) the retry revokes the session', async () => {
      const { first, lost } = await lostRotation(strict);
      await assertError(await refresh(strict, h, first.refresh_token), /already used.*revoked/, strict);
      await assertError(await refresh(strict, h, lost.refresh_token), /revoked/, strict);
    });

    test('20 retries at once: at most one is answered, the others revoke the session', async () => {
      const { first } = await lostRotation();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => refresh(server, h, first.refresh_token)),
      );
      const ok = results.filter((r) => r.status === 200);
      assert.equal(ok.length, 1, results.map((r) => r.status).join(','));
      assert.equal(results.filter((r) => r.body?.error === 'invalid_grant').length, 19);
      await assertError(await refresh(server, h, ok[0]!.body.refresh_token), /revoked/);
    });
  });
}
