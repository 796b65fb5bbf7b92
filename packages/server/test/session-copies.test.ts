// The bearer check's sessions. A process keeps a copy of each session it checked, with its user
// (store/copies.ts), so a bearer call needs no join and, on PostgreSQL, no round trip. Still a revoked
// session's access token must be refused by the next call, and the profile must show the
// user as they are now, whoever made the change: this process, the CLI, an operator's own SQL. On
// PostgreSQL another process's change arrives by notification, a millisecond or so after its commit
// (these tests allow 150 ms); this process's own changes count at once.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { LISTENER_NAME } from '../src/store/pg-changes.ts';
import { type Headless, headless, login } from './fixtures.ts';
import {
  cliOk,
  decodeJwt,
  get,
  operatorSql,
  post,
  STORE_BACKENDS,
  serverOnStore,
  settleNotifications,
  type TestServer,
} from './helpers.ts';

for (const backend of STORE_BACKENDS) {
  describe(`the bearer check's sessions on ${backend.name}`, { skip: backend.skip }, () => {
    const current = serverOnStore(backend, 'session-copies');
    let server: TestServer;
    beforeEach(() => {
      server = current();
    });

    const settle = () => settleNotifications(server);
    const profile = (token: string) =>
      get(`${server.url}/oauth2/iracing/profile`, { authorization: `Bearer ${token}` });

    /** A session whose access token has just been checked (so a PostgreSQL process holds a copy). */
    async function checked(): Promise<{ h: Headless; access: string; refresh: string; sessionId: string }> {
      const h = await headless(server.ctx!.store);
      const r = await login(server, h, { scope: 'iracing.auth iracing.profile' });
      assert.equal(r.status, 200, r.text);
      for (let i = 0; i < 2; i++) assert.equal((await profile(r.body.access_token)).status, 200);
      return {
        h,
        access: r.body.access_token,
        refresh: r.body.refresh_token,
        sessionId: decodeJwt(r.body.access_token).payload.session_id,
      };
    }

    /** The client revokes its refresh token, and with it the session (RFC 7009). */
    const revokeAtEndpoint = async (h: Headless, token: string) => {
      const r = await post(`${server.url}/oauth2/revoke`, {
        token,
        client_id: h.clientId,
        client_secret: h.maskedSecret,
      });
      assert.equal(r.status, 200, r.text);
    };

    const assertRevoked = async (access: string) => {
      const r = await profile(access);
      assert.equal(r.status, 401, r.text);
      assert.match(r.headers.get('www-authenticate') ?? '', /invalid_token/);
    };

    test('revoked by the client at /oauth2/revoke (this process): the next bearer call is refused', async () => {
      const { h, access, refresh } = await checked();
      await revokeAtEndpoint(h, refresh);
      await assertRevoked(access);
    });

    test('paddock sessions revoke (another process): the next bearer call is refused', async () => {
      const { access, sessionId } = await checked();
      await cliOk(['sessions', 'revoke', sessionId], { env: server.env });
      await settle();
      await assertRevoked(access);
    });

    test("an operator's own SQL revoking the session: the next bearer call is refused", async () => {
      const { access, sessionId } = await checked();
      await operatorSql(server, 'UPDATE sessions SET revoked_at = $1 WHERE session_id = $2', [1, sessionId]);
      await settle();
      await assertRevoked(access);
    });

    test('the session deleted with its client (paddock clients delete): the next bearer call is refused', async () => {
      const { h, access } = await checked();
      await cliOk(['clients', 'delete', h.clientId, '--yes'], { env: server.env });
      await settle();
      await assertRevoked(access);
    });

    /**
     * Runs fn while this process's listening connection is frozen: its PostgreSQL backend stopped with
     * SIGSTOP, so it neither delivers notifications nor answers the heartbeat. Needs PostgreSQL on this
     * machine and the right to signal its processes (root, as in CI).
     */
    async function frozenListener(fn: () => Promise<void>): Promise<void> {
      const c = new pg.Client({ connectionString: server.env.DATABASE_URL });
      await c.connect();
      let pid: number;
      try {
        const r = await c.query(
          'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
          [LISTENER_NAME],
        );
        assert.equal(r.rows.length, 1, 'one listening connection');
        pid = r.rows[0].pid;
      } finally {
        await c.end();
      }
      process.kill(pid, 'SIGSTOP');
      try {
        await fn();
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    }
    const canFreeze = async () => {
      try {
        process.kill(process.pid, 0);
        return process.getuid?.() === 0;
      } catch {
        return false;
      }
    };

    test('PostgreSQL: a revocation made by this process counts at once, without its notification', {
      skip: backend.name !== 'PostgreSQL',
    }, async (t) => {
      if (!(await canFreeze())) return t.skip('needs the right to signal PostgreSQL (root)');
      const { h, access, refresh } = await checked();
      await frozenListener(async () => {
        await revokeAtEndpoint(h, refresh);
        await assertRevoked(access);
      });
    });

    test('PostgreSQL: a listening connection gone silent stops the copies until it answers again', {
      skip: backend.name !== 'PostgreSQL',
    }, async (t) => {
      if (!(await canFreeze())) return t.skip('needs the right to signal PostgreSQL (root)');
      const { access, sessionId } = await checked();
      const db = server.ctx!.store.db;
      assert.equal(typeof (await db.changeVersion('sessions')), 'number');
      await frozenListener(async () => {
        // Unanswered heartbeats: within two seconds nothing is served from a copy...
        let version = await db.changeVersion('sessions');
        for (let i = 0; i < 40 && version !== undefined; i++) {
          await new Promise((r) => setTimeout(r, 50));
          version = await db.changeVersion('sessions');
        }
        assert.equal(version, undefined);
        // ...so another process's revocation, whose notification cannot arrive, is seen all the same.
        await operatorSql(server, 'UPDATE sessions SET revoked_at = $1 WHERE session_id = $2', [
          1,
          sessionId,
        ]);
        await assertRevoked(access);
      });
      let version: number | undefined;
      for (let i = 0; i < 60 && version === undefined; i++) {
        await new Promise((r) => setTimeout(r, 50));
        version = await db.changeVersion('sessions');
      }
      assert.equal(typeof version, 'number');
    });

    test("an operator's own SQL renaming the user: the profile shows the new name at once", async () => {
      const { h, access } = await checked();
      await operatorSql(server, 'UPDATE users SET display_name = $1 WHERE user_id = $2', [
        'Renamed Driver',
        h.userId,
      ]);
      await settle();
      const r = await profile(access);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.iracing_name, 'Renamed Driver');
    });
  });
}
