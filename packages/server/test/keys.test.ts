// Signing keys: encrypted at rest, published before they sign, retired after their last token expires,
// agreed on by processes sharing a database.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import { rotateKey } from '../src/tokens/keys.ts';
import { loadMasterKey } from '../src/tokens/master-key.ts';
import { headless, login } from './fixtures.ts';
import {
  cliOk,
  createPgDatabase,
  decodeJwt,
  get,
  pgSkip,
  startInProcess,
  startProcess,
  TestClock,
  type TestServer,
} from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function validates(server: TestServer, token: string) {
  const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
  const { protectedHeader } = await jwtVerify(token, jwks, { issuer: server.issuer, audience: 'oauth-api' });
  return protectedHeader.kid;
}

/** Polls until fn is true or the time runs out. */
async function eventually(fn: () => Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(200);
  }
}

describe('keys at rest', () => {
  test('private keys are encrypted with the master key, which is created 0600 in the data dir', async () => {
    const server = await startInProcess({ name: 'keys-at-rest' });
    try {
      const rows = await server.ctx!.store.signingKeys.list();
      assert.equal(rows.length, 1);
      assert.match(rows[0]!.private_key, /^v1\./);
      assert.ok(!rows[0]!.private_key.includes('PRIVATE KEY'));
      const mode = fs.statSync(path.join(server.dataDir, 'master.key')).mode & 0o777;
      assert.equal(mode, 0o600);
    } finally {
      await server.stop();
    }
  });
});

describe('paddock keys rotate on a running server', () => {
  let server: Awaited<ReturnType<typeof startProcess>>;
  after(() => server?.stop());

  test('the new key is published at once, signs after its delay, and old tokens still validate', async () => {
    server = await startProcess({
      env: { PADDOCK_KEY_REFRESH_INTERVAL: '1', PADDOCK_PASSWORD_LIMITED_LIMIT: '10000' },
      name: 'keys-rotate',
    });
    const dataDir = ['--data-dir', server.dataDir];
    const [{ json }] = await Promise.all([cliOk(['keys', 'list', '--json', ...dataDir])]);
    const before = json();
    assert.equal(before.length, 1);
    assert.equal(before[0].state, 'active');

    const store = (await import('../src/store/index.ts')).openStore;
    const cfg = (await import('../src/config.ts')).loadConfig({ PADDOCK_DATA_DIR: server.dataDir });
    const s = await store(cfg, 0);
    const h = await headless(s);
    await s.close();

    const old = await login(server, h, { scope: 'iracing.profile' });
    assert.equal(old.status, 200);
    const oldKid = decodeJwt(old.body.access_token).header.kid;
    assert.equal(oldKid, before[0].kid);

    const rotated = (await cliOk(['keys', 'rotate', '--activate-in', '3', '--json', ...dataDir])).json();
    assert.equal(rotated.state, 'pending');
    assert.notEqual(rotated.kid, oldKid);

    // Published before it signs.
    await eventually(async () => (await get(`${server.url}/.well-known/jwks.json`)).body.keys.length === 2);
    const meanwhile = await login(server, h);
    assert.equal(decodeJwt(meanwhile.body.access_token).header.kid, oldKid);

    await eventually(async () => {
      const t = await login(server, h);
      return decodeJwt(t.body.access_token).header.kid === rotated.kid;
    });
    const fresh = await login(server, h, { scope: 'iracing.profile' });
    assert.equal(await validates(server, fresh.body.access_token), rotated.kid);
    // Tokens signed before the rotation still validate, and still open the profile.
    assert.equal(await validates(server, old.body.access_token), oldKid);
    const profile = await get(`${server.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${old.body.access_token}`,
    });
    assert.equal(profile.status, 200);

    const states = (await cliOk(['keys', 'list', '--json', ...dataDir])).json();
    assert.deepEqual(
      Object.fromEntries(states.map((k: { kid: string; state: string }) => [k.kid, k.state])),
      { [oldKid]: 'published', [rotated.kid]: 'active' },
    );
  });
});

describe('retirement', () => {
  test('an old key leaves the JWKS once every token it signed has expired', async () => {
    const clock = new TestClock();
    const server = await startInProcess({ clock, name: 'keys-retire' });
    try {
      const ctx = server.ctx!;
      const h = await headless(ctx.store);
      const old = await login(server, h);
      const oldKid = decodeJwt(old.body.access_token).header.kid;
      const jwksBefore = (await get(`${server.url}/.well-known/jwks.json`)).body;
      await rotateKey(ctx.store, loadMasterKey(ctx.config), Math.floor(clock.now() / 1000), 0);
      await ctx.keys.reload();
      assert.equal((await get(`${server.url}/.well-known/jwks.json`)).body.keys.length, 2);

      clock.advance(600); // the old token's last second; the key must still be there
      await ctx.keys.reload();
      assert.equal((await get(`${server.url}/.well-known/jwks.json`)).body.keys.length, 2);
      const local = createLocalJWKSet(jwksBefore);
      await jwtVerify(old.body.access_token, local, { currentDate: new Date(clock.now() - 1000) });

      clock.advance(61);
      await ctx.keys.reload();
      const keys = (await get(`${server.url}/.well-known/jwks.json`)).body.keys;
      assert.equal(keys.length, 1);
      assert.notEqual(keys[0].kid, oldKid);
      const row = (await ctx.store.signingKeys.list()).find((k) => k.kid === oldKid)!;
      assert.ok(row.retired_at);
      assert.equal(row.private_key, '', 'a retired key forgets its private half');
    } finally {
      await server.stop();
    }
  });
});

describe('processes sharing PostgreSQL agree on the active key without a restart', { skip: pgSkip }, () => {
  let db: Awaited<ReturnType<typeof createPgDatabase>>;
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    await db?.drop();
  });

  test('after a rotation both sign with the new kid', async () => {
    db = await createPgDatabase();
    const env = {
      DATABASE_URL: db.url,
      PADDOCK_MASTER_KEY: randomBytes(32).toString('base64'),
      PADDOCK_KEY_REFRESH_INTERVAL: '1',
      PADDOCK_PASSWORD_LIMITED_LIMIT: '10000',
      // Processes behind one name share one issuer.
      PADDOCK_ISSUER: 'http://paddock.test',
    };
    const a = await startProcess({ env, name: 'keys-pg-a' });
    const b = await startProcess({ env, name: 'keys-pg-b' });
    servers.push(a, b);
    const { openStore } = await import('../src/store/index.ts');
    const { loadConfig } = await import('../src/config.ts');
    const store = await openStore(loadConfig({ DATABASE_URL: db.url }), 0);
    const h = await headless(store);
    await store.close();
    const kid = async (s: TestServer) => decodeJwt((await login(s, h)).body.access_token).header.kid;
    const first = await kid(a);
    assert.equal(await kid(b), first);

    const rotated = (
      await cliOk(['keys', 'rotate', '--activate-in', '2', '--json'], {
        env: { DATABASE_URL: db.url, PADDOCK_MASTER_KEY: env.PADDOCK_MASTER_KEY },
      })
    ).json();
    await eventually(async () => (await kid(a)) === rotated.kid && (await kid(b)) === rotated.kid);
    // Each process verifies tokens the other signed.
    const t = await login(a, h, { scope: 'iracing.profile' });
    const p = await get(`${b.url}/oauth2/iracing/profile`, {
      authorization: `Bearer ${t.body.access_token}`,
    });
    assert.equal(p.status, 200);
  });
});
