// The token endpoint keeps the clients it authenticates in memory (store/client-cache.ts). Whoever changes
// a client, and however (this CLI, another process, an operator's own SQL), the next request must see it:
// on SQLite the very next one, on PostgreSQL once the change's notification has arrived (a millisecond or
// so; the tests allow 150, far below the one-second limit of PostgreSQL's copies). Each check is one that
// only authentication makes: a refresh's transaction would catch a disabled client by itself.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { mask } from '../src/oauth/masking.ts';
import { LISTENER_NAME } from '../src/store/pg-changes.ts';
import { assertBookError } from './assertions.ts';
import { authorizeToCode, pkcePair } from './code-flow.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { newClient, newUser } from './flow.ts';
import {
  cliOk,
  noteSecret,
  operatorSql,
  post,
  STORE_BACKENDS,
  serverOnStore,
  settleNotifications,
  type TestServer,
} from './helpers.ts';
import { Browser } from './http-browser.ts';

for (const backend of STORE_BACKENDS) {
  describe(`the token endpoint's clients, cached, on ${backend.name}`, { skip: backend.skip }, () => {
    const current = serverOnStore(backend, 'client-cache');
    let server: TestServer;
    beforeEach(() => {
      server = current();
    });

    const store = () => server.ctx!.store;
    const settle = () => settleNotifications(server);

    /** A client that has just been served (so this process holds it), with a refresh token to spend. */
    async function served(): Promise<{ h: Headless; rt: string }> {
      const h = await headless(store());
      const r = await login(server, h);
      assert.equal(r.status, 200, r.text);
      const again = await refresh(server, h, r.body.refresh_token);
      assert.equal(again.status, 200, again.text);
      return { h, rt: again.body.refresh_token };
    }

    /** `paddock clients rotate-secret` (another process), heard of; returns the new secret. */
    async function rotateSecret(clientId: string): Promise<string> {
      const rotated = await cliOk(['clients', 'rotate-secret', clientId, '--json'], { env: server.env });
      const secret: string = rotated.json().client_secret;
      noteSecret(secret);
      await settle();
      return secret;
    }

    test('paddock clients disable (another process): the next request is refused', async () => {
      const { h } = await served();
      await cliOk(['clients', 'disable', h.clientId], { env: server.env });
      await settle();
      await assertBookError(server.issuer, await login(server, h), 401, 'unauthorized_client', /disabled/);
    });

    test('paddock clients rotate-secret: the new secret works and the old one is refused at once', async () => {
      const { h, rt } = await served();
      const secret = await rotateSecret(h.clientId);
      const old = await refresh(server, h, rt);
      await assertBookError(server.issuer, old, 403, 'invalid_client', /client_secret is not correct/);
      const r = await refresh(server, { ...h, maskedSecret: mask(secret, h.clientId) }, rt);
      assert.equal(r.status, 200, r.text);
    });

    test('paddock clients rotate-secret: the first request after it, with the new secret, is served', async () => {
      const { h, rt } = await served();
      const secret = await rotateSecret(h.clientId);
      const r = await refresh(server, { ...h, maskedSecret: mask(secret, h.clientId) }, rt);
      assert.equal(r.status, 200, r.text);
    });

    test('paddock clients rotate-secret: a code exchanged with the old secret is refused', async () => {
      const CB = 'https://lap-timer.example/callback';
      const { clientId, maskedSecret } = await newClient(store(), { redirect_uris: [CB] });
      const user = await newUser(store());
      const exchange = async (secret: string) => {
        const { verifier, challenge } = pkcePair();
        const code = await authorizeToCode(server, new Browser(), user, {
          response_type: 'code',
          client_id: clientId,
          redirect_uri: CB,
          code_challenge: challenge,
          code_challenge_method: 'S256',
        });
        return post(`${server.url}/oauth2/token`, {
          grant_type: 'authorization_code',
          client_id: clientId,
          client_secret: secret,
          code,
          redirect_uri: CB,
          code_verifier: verifier,
        });
      };
      // Served once: this process holds the client.
      const first = await exchange(maskedSecret!);
      assert.equal(first.status, 200, first.text);
      noteSecret(first.body.access_token, first.body.refresh_token);
      await rotateSecret(clientId);
      const old = await exchange(maskedSecret!);
      await assertBookError(server.issuer, old, 403, 'invalid_client', /client_secret is not correct/);
    });

    test('paddock clients delete: the next request does not know the client', async () => {
      const { h, rt } = await served();
      await cliOk(['clients', 'delete', h.clientId, '--yes'], { env: server.env });
      await settle();
      const r = await refresh(server, h, rt);
      await assertBookError(server.issuer, r, 403, 'invalid_client', /client_id is not valid/);
    });

    test("an operator's own SQL changing the secret's hash: the old secret is refused at once", async () => {
      const { h, rt } = await served();
      await operatorSql(server, 'UPDATE clients SET secret_hash = $1 WHERE client_id = $2', [
        '0'.repeat(64),
        h.clientId,
      ]);
      await settle();
      const r = await refresh(server, h, rt);
      await assertBookError(server.issuer, r, 403, 'invalid_client', /client_secret is not correct/);
    });

    test('a change made in this process (as the admin pages make them) is seen by the next request', async () => {
      const { h } = await served();
      await store().updateClient(h.clientId, { disabled_at: Math.floor(Date.now() / 1000) }, 0);
      await settle();
      await assertBookError(server.issuer, await login(server, h), 401, 'unauthorized_client', /disabled/);
    });

    test('PostgreSQL: while the listening connection is lost nothing is served from memory; it comes back', {
      skip: backend.name !== 'PostgreSQL',
    }, async () => {
      const { h, rt } = await served();
      const db = store().db;
      assert.equal(typeof (await db.changeVersion('clients')), 'number');
      assert.equal(typeof (await db.changeVersion('sessions')), 'number');
      // The database ends the listening connection (a restart, a failover, an operator's kill).
      await operatorSql(
        server,
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
        [LISTENER_NAME],
      );
      for (let i = 0; i < 100 && (await db.changeVersion('clients')) !== undefined; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(await db.changeVersion('clients'), undefined);
      assert.equal(await db.changeVersion('sessions'), undefined);
      // No one is listening now: a change is still seen by the next request.
      await operatorSql(server, 'UPDATE clients SET disabled_at = 1 WHERE client_id = $1', [h.clientId]);
      const r = await refresh(server, h, rt);
      await assertBookError(server.issuer, r, 401, 'unauthorized_client', /disabled/);
      // And a second later the process listens again.
      let version: number | undefined;
      for (let i = 0; i < 60 && version === undefined; i++) {
        await new Promise((r) => setTimeout(r, 50));
        version = await db.changeVersion('clients');
      }
      assert.equal(typeof version, 'number');
    });
  });
}
