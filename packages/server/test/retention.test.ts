// What the store stops keeping (store/retention.ts), as the server's hourly sweep leaves it: an expired
// refresh token a day after its expiry, an ended session 30 days after it ended with its tokens and the
// code that started it. What is still of use stays: a live token refreshes, a used one that has not
// expired still revokes its session when it comes back. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createUser } from '../src/accounts/users.ts';
import { createClient } from '../src/clients/registry.ts';
import { loadConfig } from '../src/config.ts';
import { sweepExpired } from '../src/server.ts';
import { openStore } from '../src/store/index.ts';
import { PRUNE_WINDOW } from '../src/store/retention.ts';
import type { Store } from '../src/store/store.ts';
import { sha256 } from '../src/tokens/hash.ts';
import { refreshTokenHash } from '../src/tokens/issue.ts';
import { assertBookError } from './assertions.ts';
import { publicClientCode } from './code-flow.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import {
  decodeJwt,
  noteSecret,
  post,
  STORE_BACKENDS,
  startInProcess,
  startProcess,
  TestClock,
  type TestServer,
} from './helpers.ts';
import { Browser } from './http-browser.ts';

const DAY = 86400;
const SPA = 'retention-spa';
const SPA_CB = 'https://spa.example/cb';

for (const backend of STORE_BACKENDS) {
  describe(`what the store stops keeping, on ${backend.name}`, { skip: backend.skip }, () => {
    let clock: TestClock;
    let server: TestServer;
    let store: Store;
    let h: Headless;
    let cleanup: () => Promise<void>;

    before(async () => {
      const db = await backend.env();
      cleanup = db.cleanup;
      clock = new TestClock();
      server = await startInProcess({ name: `retention-${backend.name}`, clock, env: db.env });
      store = server.ctx!.store;
      h = await headless(store);
    });
    after(async () => {
      await server?.stop();
      await cleanup?.();
    });

    const now = () => Math.floor(clock.now() / 1000);
    const tokenRow = (rt: string) => store.refreshTokens.get(refreshTokenHash(server.ctx!, rt));
    /** Runs the server's sweep; returns what it logged at info and fails on anything at error. */
    async function sweep() {
      const info: { pruned?: { sessions: number; refreshTokens: number; authorizationCodes: number } }[] = [];
      await sweepExpired(server.ctx!, {
        info: (obj) => info.push(obj),
        error: (obj, msg) => assert.fail(`${msg}: ${JSON.stringify(obj)}`),
      });
      return info.map((o) => o.pruned);
    }

    test('an expired refresh token goes a day after its expiry; a used one still revokes its session until then', async () => {
      const first = await login(server, h);
      assert.equal(first.status, 200, first.text);
      const t1 = first.body.refresh_token as string;
      // Six days on, t1 is spent (its seven-day life ends the day after) and so is its successor t2
      // (whose life ends six days later).
      clock.advance(6 * DAY);
      const r2 = await refresh(server, h, t1);
      assert.equal(r2.status, 200, r2.text);
      const t2 = r2.body.refresh_token as string;
      const r3 = await refresh(server, h, t2);
      assert.equal(r3.status, 200, r3.text);
      const t3 = r3.body.refresh_token as string;

      clock.advance(DAY + 3600);
      await sweep();
      assert.ok(await tokenRow(t1), 'expired an hour ago: kept');
      clock.advance(DAY);
      const pruned = await sweep();
      assert.equal(await tokenRow(t1), undefined, 'expired more than a day ago: deleted');
      assert.ok((pruned[0]?.refreshTokens ?? 0) >= 1, JSON.stringify(pruned));
      assert.ok(await tokenRow(t2), 'used but not expired: kept for reuse detection');
      assert.ok(await tokenRow(t3), 'live: kept');

      // The deleted token is simply unknown now: refused, and its session lives on.
      await assertBookError(server.issuer, await refresh(server, h, t1), 400, 'invalid_grant', /not valid/);
      const r4 = await refresh(server, h, t3);
      assert.equal(r4.status, 200, r4.text);
      // A used token still kept revokes the session as before.
      await assertBookError(
        server.issuer,
        await refresh(server, h, t2),
        400,
        'invalid_grant',
        /already used/,
      );
      await assertBookError(
        server.issuer,
        await refresh(server, h, r4.body.refresh_token),
        400,
        'invalid_grant',
        /revoked/,
      );
    });

    test('an ended session goes 30 days after it ended, with its tokens and the code that started it', async () => {
      const { client } = await createClient(
        store,
        {
          client_id: `${SPA}-${randomBytes(3).toString('hex')}`,
          client_name: 'SPA',
          client_type: 'public',
          redirect_uris: [SPA_CB],
        },
        now(),
      );
      const username = `ret-${randomBytes(4).toString('hex')}@example.com`;
      const password = `pw-${randomBytes(9).toString('base64url')}`;
      noteSecret(password);
      await createUser(store, { username, display_name: 'Ada', password }, now());
      const { code, form } = await publicClientCode(
        server,
        new Browser(),
        { username, password },
        client.client_id,
        SPA_CB,
      );
      const exchange = () => post(`${server.url}/oauth2/token`, form);
      const exchanged = await exchange();
      assert.equal(exchanged.status, 200, exchanged.text);
      noteSecret(exchanged.body.access_token, exchanged.body.refresh_token);
      const sessionId = decodeJwt(exchanged.body.access_token).payload.session_id as string;
      const rt = exchanged.body.refresh_token as string;
      // The code comes back: its session is revoked (the book's reuse rule), and so has ended.
      await assertBookError(server.issuer, await exchange(), 400, 'invalid_grant', /already used/);
      assert.ok((await store.getSession(sessionId))?.revoked_at);
      // A session of the password grant lives on all the while.
      const live = await login(server, h);
      assert.equal(live.status, 200, live.text);
      const liveSession = decodeJwt(live.body.access_token).payload.session_id as string;

      clock.advance(29 * DAY);
      await sweep();
      assert.ok(await store.getSession(sessionId), 'ended 29 days ago: kept');
      assert.ok(await store.flow.getAuthorizationCode(sha256(code)));

      clock.advance(2 * DAY);
      const pruned = await sweep();
      assert.equal(await store.getSession(sessionId), undefined, 'ended 31 days ago: deleted');
      assert.equal(await tokenRow(rt), undefined, 'its refresh token too');
      assert.equal(await store.flow.getAuthorizationCode(sha256(code)), undefined, 'and its code');
      assert.ok((pruned[0]?.sessions ?? 0) >= 1, JSON.stringify(pruned));
      assert.ok((pruned[0]?.authorizationCodes ?? 0) >= 1, JSON.stringify(pruned));
      // Nothing of it can be used, and nothing else went with it.
      await assertBookError(server.issuer, await exchange(), 400, 'invalid_grant');
      assert.ok(await store.getSession(liveSession));
    });

    test('many rows: every expired token goes, every later one stays, whatever the windows', async () => {
      const first = await login(server, h);
      assert.equal(first.status, 200, first.text);
      const sessionId = decodeJwt(first.body.access_token).payload.session_id as string;
      const t = now();
      const clientId = h.clientId;
      const n = Math.floor(PRUNE_WINDOW * 1.25);
      const hash = (kind: string, i: number) => `retention-${kind}-${sessionId}-${i}`;
      await store.transaction(async (tx) => {
        // Made long ago and expired, then made an hour ago and live, in the order a server makes them.
        for (let i = 0; i < n; i++)
          await tx.refreshTokens.insert({
            token_hash: hash('old', i),
            session_id: sessionId,
            client_id: clientId,
            expires_at: t - 2 * DAY,
            created_at: t - 9 * DAY,
          });
        for (let i = 0; i < n; i++)
          await tx.refreshTokens.insert({
            token_hash: hash('new', i),
            session_id: sessionId,
            client_id: clientId,
            expires_at: t + 6 * DAY,
            created_at: t - 3600,
          });
      });
      const count = async (kind: string) =>
        Number(
          (
            await store.db.all<{ n: number }>(
              'SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id = ? AND token_hash LIKE ?',
              [sessionId, `retention-${kind}-%`],
            )
          )[0]!.n,
        );
      assert.equal(await count('old'), n);
      await sweep();
      assert.equal(await count('old'), 0);
      assert.equal(await count('new'), n);
      const next = await refresh(server, h, first.body.refresh_token);
      assert.equal(next.status, 200, next.text);
    });
  });
}

describe('the sweep of `paddock serve`', () => {
  test('runs a minute after the server starts, not only once an hour', { timeout: 120_000 }, async () => {
    const server = await startProcess({ name: 'retention-serve' });
    const store = await openStore(loadConfig({ PADDOCK_DATA_DIR: server.dataDir }), 0);
    try {
      const h = await headless(store);
      const first = await login(server, h);
      assert.equal(first.status, 200, first.text);
      const sessionId = decodeJwt(first.body.access_token).payload.session_id as string;
      const t = Math.floor(Date.now() / 1000);
      const expired = `retention-serve-${sessionId}`;
      await store.refreshTokens.insert({
        token_hash: expired,
        session_id: sessionId,
        client_id: h.clientId,
        expires_at: t - 2 * DAY,
        created_at: t - 9 * DAY,
      });
      // The sweep logs once its last table is done, and the row is gone from this connection's view a
      // little before that (the server answers nobody until its fdatasync ends): wait for the log line.
      const swept = /"refreshTokens":1\b.*deleted ended sessions and expired refresh tokens/;
      const deadline = Date.now() + 90_000;
      while (!swept.test(server.output()) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 250));
      assert.match(server.output(), swept);
      assert.equal(await store.refreshTokens.get(expired), undefined, 'deleted by the first sweep');
      const next = await refresh(server, h, first.body.refresh_token);
      assert.equal(next.status, 200, next.text);
    } finally {
      await store.close();
      await server.stop();
    }
  });
});
