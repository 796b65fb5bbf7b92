// Single use under contention: 50 parallel requests with one refresh token give exactly one 200, the
// rest invalid_grant, and the session ends revoked: on SQLite, on PostgreSQL, and with two server
// processes sharing one PostgreSQL database.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/store.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import {
  createPgDatabase,
  decodeJwt,
  pgSkip,
  startInProcess,
  startProcess,
  type TestServer,
} from './helpers.ts';

async function race(servers: TestServer[], store: Store, h: Headless) {
  const first = await login(servers[0]!, h);
  assert.equal(first.status, 200, first.text);
  const sessionId = decodeJwt(first.body.access_token).payload.session_id;
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => refresh(servers[i % servers.length]!, h, first.body.refresh_token)),
  );
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 400 && r.body.error === 'invalid_grant');
  assert.equal(ok.length, 1, `statuses: ${results.map((r) => r.status).join(',')}`);
  assert.equal(refused.length, 49);
  const session = await store.getSession(sessionId);
  assert.ok(session?.revoked_at, 'the session is revoked after the reuse');
  // The winner's new refresh token died with the session.
  const late = await refresh(servers[0]!, h, ok[0]!.body.refresh_token);
  assert.equal(late.body.error, 'invalid_grant');
}

describe('one refresh token, 50 parallel requests', () => {
  test('SQLite', async () => {
    const server = await startInProcess({ name: 'race-sqlite' });
    try {
      await race([server], server.ctx!.store, await headless(server.ctx!.store));
    } finally {
      await server.stop();
    }
  });

  describe('PostgreSQL', { skip: pgSkip }, () => {
    const dbs: Awaited<ReturnType<typeof createPgDatabase>>[] = [];
    const servers: TestServer[] = [];
    after(async () => {
      for (const s of servers) await s.stop();
      for (const d of dbs) await d.drop();
    });

    test('one process', async () => {
      const db = await createPgDatabase();
      dbs.push(db);
      const server = await startInProcess({ name: 'race-pg', env: { DATABASE_URL: db.url } });
      servers.push(server);
      await race([server], server.ctx!.store, await headless(server.ctx!.store));
    });

    test('two server processes sharing the database', async () => {
      const db = await createPgDatabase();
      dbs.push(db);
      const env = {
        DATABASE_URL: db.url,
        PADDOCK_MASTER_KEY: randomBytes(32).toString('base64'),
        PADDOCK_ISSUER: 'http://paddock.test',
      };
      // Both processes start at once: migrations and the first key must cope.
      const [a, b] = await Promise.all([
        startProcess({ env, name: 'race-pg-a' }),
        startProcess({ env, name: 'race-pg-b' }),
      ]);
      servers.push(a, b);
      const store = await openStore(loadConfig({ DATABASE_URL: db.url }), 0);
      try {
        const h = await headless(store);
        await race([a, b], store, h);
        // Tokens are honoured across processes: minted by one, refreshed by the other.
        const t = await login(a, h);
        const r = await refresh(b, h, t.body.refresh_token);
        assert.equal(r.status, 200);
      } finally {
        await store.close();
      }
    });
  });
});
