// The Store on both databases: migrations (also when several processes start at once), atomic counters,
// and secrets stored only as hashes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { createClient } from '../src/clients/registry.ts';
import { loadConfig } from '../src/config.ts';
import { mask } from '../src/oauth/masking.ts';
import { openStore, sqliteFile, storeDescription } from '../src/store/index.ts';
import { MIGRATIONS, migrate, migrationSql } from '../src/store/migrations.ts';
import type { Store } from '../src/store/store.ts';
import type { SessionRecord, UserRecord } from '../src/store/types.ts';
import { sha256 } from '../src/tokens/hash.ts';
import { headless, login } from './fixtures.ts';
import { createPgDatabase, pgSkip, startInProcess, tmpDir } from './helpers.ts';

interface Backend {
  name: string;
  skip: string | false;
  open(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    async open() {
      return { env: { PADDOCK_DATA_DIR: tmpDir() }, cleanup: async () => {} };
    },
  },
  {
    name: 'PostgreSQL',
    skip: pgSkip,
    async open() {
      const db = await createPgDatabase();
      return { env: { DATABASE_URL: db.url, PADDOCK_DATA_DIR: tmpDir() }, cleanup: db.drop };
    },
  },
];

for (const backend of backends) {
  describe(`Store on ${backend.name}`, { skip: backend.skip }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of cleanups) await c();
    });
    const fresh = async () => {
      const { env, cleanup } = await backend.open();
      cleanups.push(cleanup);
      return env;
    };

    test('a session with its user and its client reads back with every column in its place', async () => {
      const store = await openStore(loadConfig(await fresh()), 100);
      try {
        const user: UserRecord = {
          user_id: 'user-ctx',
          username: 'ctx@example.com',
          display_name: 'Context',
          cust_id: 4242,
          group_ids: [3, 7],
          env: 'member',
          subscription_active: true,
          password_hash: 'stored-hash',
          created_at: 11,
          updated_at: 12,
        };
        await store.users.insert(user);
        await createClient(store, { client_id: 'ctx-client', client_name: 'Context' }, 13);
        await store.db.run('UPDATE clients SET disabled_at = ? WHERE client_id = ?', [14, 'ctx-client']);
        // A distinct value in every column, so that two columns read in each other's place cannot pass.
        const session: SessionRecord = {
          session_id: 'session-ctx',
          user_id: 'user-ctx',
          client_id: 'ctx-client',
          scope: 'iracing.profile',
          grant_type: 'authorization_code',
          auth_time: 21,
          expires_at: 22,
          last_activity: 23,
          revoked_at: 24,
          revoked_reason: 'signed_out',
          first_ip: '192.0.2.1',
          first_user_agent: 'first agent',
          last_ip: '192.0.2.2',
          last_user_agent: 'last agent',
          impersonated: 1,
          impersonation_note: 'support case',
        };
        await store.insertSession(session);
        await store.refreshTokens.insert({
          token_hash: 'token-ctx',
          session_id: 'session-ctx',
          client_id: 'ctx-client',
          expires_at: 22,
          created_at: 21,
        });
        const expected = { session, user, clientDisabledAt: 14 };
        assert.deepEqual(await store.sessionContext('session-ctx'), expected);
        assert.deepEqual(await store.sessionContextOfRefreshToken('token-ctx'), expected);
        assert.equal(await store.sessionContext('no-such-session'), undefined);
        assert.equal(await store.sessionContextOfRefreshToken('no-such-token'), undefined);
      } finally {
        await store.close();
      }
    });

    test('migrations are recorded and applying them again changes nothing', async () => {
      const env = await fresh();
      const store = await openStore(loadConfig(env), 100);
      try {
        const rows = await store.db.all<{ version: number }>('SELECT version FROM schema_migrations');
        assert.deepEqual(
          rows.map((r) => Number(r.version)),
          MIGRATIONS.map((m) => m.version),
        );
        assert.deepEqual(await migrate(store.db, 200), []);
      } finally {
        await store.close();
      }
    });

    test('migration 13 moves the rotation link to the spent token: a retried rotation still finds it', async () => {
      const env = await fresh();
      const store = await openStore(loadConfig(env), 100, { migrate: false });
      try {
        // The schema as version 12 left it, with a token rotated once under the old link (parent_hash).
        await store.db.exec(
          'CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
        );
        for (const m of MIGRATIONS.filter((m) => m.version <= 12)) {
          await store.db.exec(migrationSql(m, store.db.dialect));
          await store.db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
            m.version,
            m.name,
            100,
          ]);
        }
        const h = await headless(store);
        const now = Math.floor(Date.now() / 1000);
        const session = {
          session_id: 'session-before-13',
          user_id: h.userId,
          client_id: h.clientId,
          scope: null,
          grant_type: 'password_limited' as const,
          auth_time: now,
          expires_at: now + 3600,
          last_activity: now,
          revoked_at: null,
          revoked_reason: null,
          first_ip: null,
          first_user_agent: null,
          last_ip: null,
          last_user_agent: null,
          impersonated: 0,
          impersonation_note: null,
        };
        await store.insertSession(session);
        const row = (hash: string, usedAt: number | null, parent: string | null) =>
          store.db.run(
            `INSERT INTO refresh_tokens (token_hash, session_id, client_id, expires_at, created_at, used_at, parent_hash)
             VALUES (?, ?, ?, ?, ?, ?, ?)`,
            [hash, session.session_id, h.clientId, now + 3600, now, usedAt, parent],
          );
        await row('first', now, null);
        await row('second', null, 'first');
        await row('other', null, null);

        assert.deepEqual(
          await migrate(store.db, 200),
          MIGRATIONS.filter((m) => m.version >= 13).map((m) => m.version),
        );
        assert.equal((await store.refreshTokens.get('first'))?.successor_hash, 'second');
        assert.equal((await store.refreshTokens.get('other'))?.successor_hash, null);
        assert.ok(!('parent_hash' in (await store.refreshTokens.get('second'))!));
        // The retried rotation of "first" consumes "second", once.
        assert.equal(
          await store.refreshTokens.consumeSuccessor('first', h.clientId, now),
          session.session_id,
        );
        assert.equal(await store.refreshTokens.consumeSuccessor('first', h.clientId, now), undefined);
        assert.equal(await store.refreshTokens.consumeSuccessor('other', h.clientId, now), undefined);
      } finally {
        await store.close();
      }
    });

    test('several processes migrating at once: each migration applied exactly once', async () => {
      const env = await fresh();
      const stores = await Promise.all(Array.from({ length: 5 }, () => openStore(loadConfig(env), 100)));
      try {
        const rows = await stores[0]!.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM schema_migrations');
        assert.equal(Number(rows[0]!.n), MIGRATIONS.length);
      } finally {
        for (const s of stores) await s.close();
      }
    });

    test('the rate counter is atomic: 100 parallel hits get 100 distinct counts', async () => {
      const env = await fresh();
      const stores: Store[] = await Promise.all([
        openStore(loadConfig(env), 0),
        openStore(loadConfig(env), 0),
      ]);
      try {
        const hits = await Promise.all(
          Array.from({ length: 100 }, (_, i) => stores[i % 2]!.counters.hit('test:key', 60, 1000)),
        );
        assert.deepEqual(
          hits.map((h) => h.hits).sort((a, b) => a - b),
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        // A new window starts again at 1.
        assert.equal((await stores[0]!.counters.hit('test:key', 60, 1060)).hits, 1);
      } finally {
        for (const s of stores) await s.close();
      }
    });

    test('refresh tokens and client secrets are stored only as hashes', async () => {
      const env = await fresh();
      const server = await startInProcess({
        env,
        dataDir: env.PADDOCK_DATA_DIR,
        name: `hashes-${backend.name}`,
      });
      try {
        const store = server.ctx!.store;
        const h = await headless(store);
        const r = await login(server, h);
        const rows = await store.db.all<Record<string, unknown>>('SELECT * FROM refresh_tokens');
        assert.equal(rows.length, 1);
        // The hash, after the millisecond of minting on SQLite (see refreshTokenHash).
        assert.equal(
          String(rows[0]!.token_hash).replace(backend.name === 'SQLite' ? /^[0-9a-f]{12}\./ : /^/, ''),
          sha256(r.body.refresh_token),
        );
        const dump = JSON.stringify([
          rows,
          await store.db.all('SELECT * FROM clients'),
          await store.db.all('SELECT * FROM users'),
        ]);
        for (const secret of [r.body.refresh_token, h.secret, h.maskedSecret, h.password, h.maskedPassword]) {
          assert.ok(!dump.includes(secret), 'no secret is stored as it was sent');
        }
        const client = await store.getClient(h.clientId);
        assert.equal(client!.secret_hash, sha256(mask(h.secret, h.clientId)));
        const user = await store.users.byUsername(h.username);
        assert.match(user!.password_hash, /^\$argon2id\$/);
      } finally {
        await server.stop();
      }
    });
  });
}

describe('SQLite durability', () => {
  test('WAL in one file in the data dir; by default a commit is answered only once the WAL is on disk', async () => {
    const env = { PADDOCK_DATA_DIR: tmpDir() };
    const config = loadConfig(env);
    const store = await openStore(config, 0);
    const synced: { file: string; done: number }[] = [];
    const original = fs.fdatasync;
    // Every fdatasync of the process, made slow and recorded with the file it synced.
    fs.fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) =>
      setTimeout(
        () =>
          original(fd, (err) => {
            synced.push({ file: fs.readlinkSync(`/proc/self/fd/${fd}`), done: performance.now() });
            cb(err);
          }),
        150,
      )) as unknown as typeof fs.fdatasync;
    try {
      const [mode] = await store.db.all<{ journal_mode: string }>('PRAGMA journal_mode');
      assert.equal(mode!.journal_mode, 'wal');
      assert.ok(sqliteFile(config).startsWith(env.PADDOCK_DATA_DIR));
      await store.db.exec('CREATE TABLE durable_probe (x INTEGER)');
      const written = synced.length;
      await store.db.run('INSERT INTO durable_probe (x) VALUES (1)');
      const answered = performance.now();
      assert.ok(synced.length > written, 'a write outside a transaction is synced before it is answered');
      const last = synced[synced.length - 1]!;
      assert.equal(last.file, `${sqliteFile(config)}-wal`);
      assert.ok(last.done <= answered);
      synced.length = 0;
      await store.db.transaction((q) => q.run('INSERT INTO durable_probe (x) VALUES (2)'));
      assert.equal(synced.length, 1, 'the transaction was answered after one fdatasync of the WAL');
      assert.equal(synced[0]!.file, `${sqliteFile(config)}-wal`);
    } finally {
      fs.fdatasync = original;
      await store.close();
    }
  });

  test('PADDOCK_SQLITE_SYNCHRONOUS=NORMAL: commits are not synced one by one', async () => {
    const store = await openStore(
      loadConfig({ PADDOCK_DATA_DIR: tmpDir(), PADDOCK_SQLITE_SYNCHRONOUS: 'NORMAL' }),
      0,
    );
    let syncs = 0;
    const original = fs.fdatasync;
    fs.fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      syncs++;
      original(fd, cb);
    }) as unknown as typeof fs.fdatasync;
    try {
      await store.db.exec('CREATE TABLE probe (x INTEGER)');
      await store.db.transaction((q) => q.run('INSERT INTO probe (x) VALUES (1)'));
      await store.db.run('INSERT INTO probe (x) VALUES (2)');
      assert.equal(syncs, 0);
    } finally {
      fs.fdatasync = original;
      await store.close();
    }
  });
});

describe('SQLite WAL size of a serving process', () => {
  const LIMIT_MB = 4;
  const MB = 1024 * 1024;

  /** The store as `paddock serve` runs it: checkpoints on their thread, the WAL within LIMIT_MB. */
  async function serving(): Promise<{ store: Store; walSize: () => number; file: string }> {
    const config = loadConfig({ PADDOCK_DATA_DIR: tmpDir(), PADDOCK_SQLITE_WAL_LIMIT_MB: String(LIMIT_MB) });
    const store = await openStore(config, 0);
    store.db.checkpointInBackground?.(config.sqliteWalLimitMb * MB);
    await store.db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const file = sqliteFile(config);
    const wal = `${file}-wal`;
    return { store, walSize: () => (fs.existsSync(wal) ? fs.statSync(wal).size : 0), file };
  }

  test('under writes that never pause, the WAL stops growing at the limit', async () => {
    const { store, walSize } = await serving();
    try {
      // Eight writers, each always with a transaction on its way: twenty times the limit in all.
      let written = 0;
      let largest = 0;
      const writer = async () => {
        while (written < 20 * LIMIT_MB * MB) {
          await store.db.transaction((q) =>
            q.run('INSERT INTO filler (body) VALUES (?)', ['x'.repeat(8000)]),
          );
          written += 8000;
          largest = Math.max(largest, walSize());
        }
      };
      await Promise.all(Array.from({ length: 8 }, writer));
      // The limit is looked at every 100 ms, and the commits of that time (and of the checkpoints that
      // follow, on a machine busy with other work) still land past it: at this pace, several limits' worth.
      assert.ok(largest < 5 * LIMIT_MB * MB, `the WAL reached ${(largest / MB).toFixed(1)} MB`);
    } finally {
      await store.close();
    }
  });

  test('a reader that holds the WAL for long (a backup) does not hold up commits while it is too long', async () => {
    const { store, walSize, file } = await serving();
    // Another process's connection in a read transaction, as SQLite's backup reads a database.
    const backup = new Database(file, { readonly: true });
    try {
      await store.db.run('INSERT INTO filler (body) VALUES (?)', ['x']);
      backup.prepare('BEGIN').run();
      backup.prepare('SELECT COUNT(*) FROM filler').get();
      let slowest = 0;
      const writer = async () => {
        while (walSize() < 3 * LIMIT_MB * MB) {
          const start = performance.now();
          await store.db.transaction((q) =>
            q.run('INSERT INTO filler (body) VALUES (?)', ['x'.repeat(8000)]),
          );
          slowest = Math.max(slowest, performance.now() - start);
        }
      };
      await Promise.all(Array.from({ length: 4 }, writer));
      // The WAL cannot start over while the reader holds it; the checkpoint must not wait for it with the
      // write lock held (it would for a second at a time).
      assert.ok(slowest < 300, `a commit waited ${slowest.toFixed(0)} ms`);
    } finally {
      backup.close();
      await store.close();
    }
  });

  test('a WAL grown past the limit by one large transaction is cut back to it', async () => {
    const { store, walSize } = await serving();
    try {
      await store.db.transaction(async (q) => {
        for (let i = 0; i < 2 * LIMIT_MB * 128; i++)
          await q.run('INSERT INTO filler (body) VALUES (?)', ['x'.repeat(8000)]);
      });
      assert.ok(walSize() > 2 * LIMIT_MB * MB, 'the transaction filled the WAL past the limit');
      // The background checkpoint copies it (every 100 ms); the next commit then writes from the start.
      const deadline = Date.now() + 5000;
      while (walSize() > LIMIT_MB * MB && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        await store.db.run('INSERT INTO filler (body) VALUES (?)', ['y']);
      }
      assert.ok(walSize() <= LIMIT_MB * MB, `the WAL kept ${(walSize() / MB).toFixed(1)} MB`);
    } finally {
      await store.close();
    }
  });
});

describe('the store a server says it serves from', () => {
  test('SQLite: the database file in the data dir', () => {
    const dir = tmpDir();
    assert.deepEqual(storeDescription(loadConfig({ PADDOCK_DATA_DIR: dir })), {
      store: 'sqlite',
      file: path.join(path.resolve(dir), 'paddock.db'),
    });
  });

  test('PostgreSQL: host, port and database, never the user name, password or parameters', () => {
    const said = storeDescription(
      loadConfig({ DATABASE_URL: 'postgres://alice:s3cret%21@db.example.net:6543/paddock?sslmode=require' }),
    );
    assert.deepEqual(said, { store: 'postgres', host: 'db.example.net', port: 6543, database: 'paddock' });
    assert.doesNotMatch(JSON.stringify(said), /alice|s3cret|sslmode/);
    // A Unix socket's directory as ?host=, and no database named: the driver's default, not a guess.
    assert.deepEqual(storeDescription(loadConfig({ DATABASE_URL: 'postgresql:///?host=/run/postgresql' })), {
      store: 'postgres',
      host: '/run/postgresql',
      port: 5432,
    });
    // A form the driver reads and a URL parser does not: the kind of store only, still nothing secret.
    assert.deepEqual(
      storeDescription(loadConfig({ DATABASE_URL: 'postgresql://bob:pw@/?host=/run/postgresql' })),
      { store: 'postgres' },
    );
  });
});
