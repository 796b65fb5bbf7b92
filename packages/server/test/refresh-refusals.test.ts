// The refresh_token grant's refusals on both stores. On PostgreSQL a rotation is one statement that
// carries the grant's conditions in SQL (grants/refresh_token.ts, rotateAtOnce); whatever it refuses goes
// on to the transaction that says why. Either way a refused request changes nothing: the token still works
// once the cause is gone, and the session's last activity is not moved.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '../src/tokens/hash.ts';
import { macJwt } from '../src/tokens/jwt.ts';
import { assertBookError } from './assertions.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { decodeJwt, STORE_BACKENDS, startInProcess, TestClock, type TestServer } from './helpers.ts';

const SESSION_MAX_AGE = 3600;

for (const backend of STORE_BACKENDS) {
  describe(`refresh_token refusals on ${backend.name}`, { skip: backend.skip }, () => {
    const clock = new TestClock();
    let server: TestServer;
    let cleanup: () => Promise<void>;
    before(async () => {
      const db = await backend.env();
      cleanup = db.cleanup;
      server = await startInProcess({
        name: `refusals-${backend.name}`,
        clock,
        env: { ...db.env, PADDOCK_SESSION_MAX_AGE: String(SESSION_MAX_AGE) },
      });
    });
    after(async () => {
      await server?.stop();
      await cleanup?.();
    });

    const store = () => server.ctx!.store;
    const assertError = (
      r: { status: number; body: any; headers: Headers },
      status: number,
      error: string,
      d: RegExp,
    ) => assertBookError(server.issuer, r, status, error, d);
    const sessionOf = (accessToken: string): string => decodeJwt(accessToken).payload.session_id;
    const lastActivity = async (sessionId: string) => (await store().getSession(sessionId))!.last_activity;

    /** A fresh user and client with one session, its refresh token, and the session's activity so far. */
    async function started(): Promise<{ h: Headless; rt: string; sessionId: string; activity: number }> {
      const h = await headless(store());
      const r = await login(server, h);
      assert.equal(r.status, 200, r.text);
      const sessionId = sessionOf(r.body.access_token);
      clock.advance(5); // so that an answered refresh would move last_activity
      return { h, rt: r.body.refresh_token, sessionId, activity: await lastActivity(sessionId) };
    }

    test('a rotation: the successor works, the session is touched, the spent token revokes it', async () => {
      const { h, rt, sessionId, activity } = await started();
      const second = await refresh(server, h, rt);
      assert.equal(second.status, 200, second.text);
      assert.equal(sessionOf(second.body.access_token), sessionId);
      assert.ok((await lastActivity(sessionId)) > activity);
      const third = await refresh(server, h, second.body.refresh_token);
      assert.equal(third.status, 200, third.text);
      await assertError(await refresh(server, h, rt), 400, 'invalid_grant', /already used.*revoked/);
      await assertError(await refresh(server, h, third.body.refresh_token), 400, 'invalid_grant', /revoked/);
    });

    test("another client's refresh token: refused, and still usable by its own client", async () => {
      const { h, rt, sessionId, activity } = await started();
      const other = await headless(store());
      await assertError(await refresh(server, other, rt), 400, 'invalid_grant', /not issued to this client/);
      assert.equal(await lastActivity(sessionId), activity);
      assert.equal((await refresh(server, h, rt)).status, 200);
    });

    test('an inactive subscription: refused; once reactivated the token works', async () => {
      const { h, rt, sessionId, activity } = await started();
      await store().users.setSubscription(h.userId, false, 0);
      await assertError(await refresh(server, h, rt), 400, 'invalid_grant', /subscription/);
      assert.equal(await lastActivity(sessionId), activity);
      await store().users.setSubscription(h.userId, true, 0);
      assert.equal((await refresh(server, h, rt)).status, 200);
    });

    test('a disabled client: refused; once enabled the token works', async () => {
      const { h, rt, sessionId, activity } = await started();
      await store().updateClient(h.clientId, { disabled_at: 1 }, 0);
      await assertError(await refresh(server, h, rt), 401, 'unauthorized_client', /disabled/);
      assert.equal(await lastActivity(sessionId), activity);
      await store().updateClient(h.clientId, { disabled_at: null }, 0);
      assert.equal((await refresh(server, h, rt)).status, 200);
    });

    test('a revoked session: refused, and the token stays unspent', async () => {
      const { h, rt, sessionId } = await started();
      await store().revokeSession(sessionId, 'test', 0);
      await assertError(await refresh(server, h, rt), 400, 'invalid_grant', /revoked/);
      const row = await store().refreshTokens.get(
        (
          await store().db.all<{ token_hash: string }>(
            'SELECT token_hash FROM refresh_tokens WHERE session_id = ?',
            [sessionId],
          )
        )[0]!.token_hash,
      );
      assert.equal(row?.used_at, null);
    });

    test('an expired session: refused', async () => {
      const { h, rt } = await started();
      clock.advance(SESSION_MAX_AGE);
      await assertError(await refresh(server, h, rt), 400, 'invalid_grant', /expired/);
    });

    test('a token with altered claims spends nothing, and the real one still works', async () => {
      const { h, rt, sessionId, activity } = await started();
      const [head, body, mac] = rt.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
      for (const change of [
        { session_exp: claims.session_exp + 86400 },
        { session_id: 'another' },
        { exp: 1 },
      ]) {
        const altered = `${head}.${Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url')}.${mac}`;
        await assertError(await refresh(server, h, altered), 400, 'invalid_grant', /not valid/);
      }
      assert.equal(await lastActivity(sessionId), activity);
      assert.equal((await refresh(server, h, rt)).status, 200);
    });

    test('refresh tokens are stored hashed; on SQLite under keys that sort in the order they were minted', async () => {
      // SQLite: one after another, so that a group commit's new tokens share the last page of the key's
      // index instead of dirtying a random page each. PostgreSQL keeps the plain hash, which every
      // earlier version looks tokens up by (processes of two versions serve one database in a rolling
      // upgrade).
      const { h, rt, sessionId } = await started();
      const minted = [rt];
      for (let i = 0; i < 7; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        const r = await refresh(server, h, minted.at(-1)!);
        assert.equal(r.status, 200, r.text);
        minted.push(r.body.refresh_token);
      }
      const keys = (
        await store().db.all<{ token_hash: string }>(
          'SELECT token_hash FROM refresh_tokens WHERE session_id = ?',
          [sessionId],
        )
      ).map((row) => row.token_hash);
      assert.equal(keys.length, minted.length);
      if (backend.name === 'PostgreSQL')
        assert.deepEqual(new Set(keys), new Set(minted.map((t) => sha256(t))));
      else {
        const sorted = [...keys].sort();
        for (const [i, t] of minted.entries())
          assert.ok(sorted[i]!.endsWith(`.${sha256(t)}`), `token ${i}: ${sorted[i]}`);
      }
    });

    test('refresh tokens of earlier versions (no session_exp; a random jti), stored under the plain hash, rotate', async () => {
      for (const jti of [undefined, randomUUID()]) {
        const { h, sessionId } = await started();
        const now = Math.floor(clock.now() / 1000);
        const old = macJwt(
          { alg: 'HS256', typ: 'rt+jwt' },
          { session_id: sessionId, iat: now, exp: now + 60, ...(jti && { jti }) },
          randomBytes(32),
        );
        await store().refreshTokens.insert({
          token_hash: sha256(old),
          session_id: sessionId,
          client_id: h.clientId,
          expires_at: now + 60,
          created_at: now,
        });
        const r = await refresh(server, h, old);
        assert.equal(r.status, 200, r.text);
        assert.equal(sessionOf(r.body.access_token), sessionId);
        assert.equal((await refresh(server, h, r.body.refresh_token)).status, 200);
        await assertError(await refresh(server, h, old), 400, 'invalid_grant', /already used/);
      }
    });

    test('20 presentations of one token at once: one answer, and the session is revoked', async () => {
      const { h, rt, sessionId } = await started();
      const all = await Promise.all(Array.from({ length: 20 }, () => refresh(server, h, rt)));
      assert.equal(all.filter((r) => r.status === 200).length, 1);
      assert.ok((await store().getSession(sessionId))!.revoked_at !== null);
    });
  });
}
