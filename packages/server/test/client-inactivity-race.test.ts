// Several processes sweeping one database at once (two `paddock clients sweep-inactive` on one SQLite file,
// two on one PostgreSQL database): each notice is claimed in the database before it is sent, so each is
// delivered exactly once, to a real SMTP server.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../src/clients/registry.ts';
import { loadConfig } from '../src/config.ts';
import type { SweepOutcome } from '../src/jobs/inactivity-sweep.ts';
import { mask } from '../src/oauth/masking.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/store.ts';
import { cliOk, createPgDatabase, noteSecret, pgSkip, tmpDir } from './helpers.ts';
import { FROM, inDays, testLogFile } from './lifecycle.ts';
import { startSmtp, type TestSmtp } from './smtp.ts';

describe('two sweeps at once send each notice exactly once', () => {
  let smtp: TestSmtp;
  before(async () => {
    // Each delivery takes a while, so that the two sweeps overlap.
    smtp = await startSmtp({ delayMs: 150 });
  });
  after(() => smtp.close());

  /** Registers 12 clients, then runs two CLI sweeps at once at +90 and at +180 days; checks each notice once. */
  async function race(env: Record<string, string>, prefix: string) {
    const store: Store = await openStore(loadConfig(env), 0);
    const now = Math.floor(Date.now() / 1000);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const id = `${prefix}-${i}`;
        ids.push(id);
        const { client_secret } = await createClient(
          store,
          { client_id: id, client_name: `Race ${i}`, developer_email: `${id}@race.example` },
          now,
        );
        noteSecret(client_secret, mask(client_secret!, id));
      }
    } finally {
      await store.close();
    }
    const fullEnv = { ...env, PADDOCK_SMTP_URL: smtp.url, PADDOCK_MAIL_FROM: FROM };
    const both = async (asOf: string) => {
      const runs = await Promise.all(
        [0, 1].map(() => cliOk(['clients', 'sweep-inactive', '--as-of', asOf, '--json'], { env: fullEnv })),
      );
      for (const r of runs) fs.writeFileSync(testLogFile(`sweep-race-${prefix}`), r.stderr);
      return runs.flatMap((r) => r.json() as SweepOutcome[]);
    };
    const received = (notice: RegExp) =>
      smtp.received.filter((m) => m.rcptTo[0]?.startsWith(`${prefix}-`) && notice.test(m.mail.subject ?? ''));

    const at90 = await both(inDays(90));
    assert.deepEqual(
      at90.map((o) => o.client_id).sort(),
      [...ids].sort(),
      'each client once across both processes',
    );
    assert.ok(at90.every((o) => o.sent && o.notice === '90'));
    assert.equal(received(/unused for 90 days/).length, 12);

    const at180 = await both(inDays(180));
    assert.deepEqual(at180.map((o) => o.client_id).sort(), [...ids].sort());
    assert.ok(at180.every((o) => o.sent && o.disabled && o.notice === 'final'));
    assert.equal(received(/was disabled after 180 days/).length, 12);
    for (const id of ids) {
      const perClient = smtp.received.filter((m) => m.rcptTo[0] === `${id}@race.example`);
      assert.equal(perClient.length, 2, `${id}: one warning, one final notice`);
    }
  }

  /**
   * The primitive under the sweep: two connections (two processes' worth) claim one notice 20 times at
   * once, and again after a failed delivery gave it back; each time exactly one claim wins.
   */
  async function claimRace(env: Record<string, string>) {
    const [a, b] = [await openStore(loadConfig(env), 0), await openStore(loadConfig(env), 0)];
    try {
      await createClient(
        a,
        { client_id: 'contested', client_name: 'Contested', client_type: 'public' },
        1000,
      );
      const key = { client_id: 'contested', period_start: 1000, notice: '90' as const };
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).lifecycle.claimNotice(key, 2000)),
      );
      assert.equal(claims.filter(Boolean).length, 1, 'one claim');
      await a.lifecycle.releaseNotice(key, 'x@contested.example', 'refused');
      const retries = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).lifecycle.reclaimNotice(key, 3000, 3000 - 900)),
      );
      assert.equal(retries.filter(Boolean).length, 1, 'one retry');
      await a.lifecycle.deleteClient('contested');
    } finally {
      await a.close();
      await b.close();
    }
  }

  test('two processes on one SQLite file', async () => {
    await claimRace({ PADDOCK_DATA_DIR: tmpDir() });
    await race({ PADDOCK_DATA_DIR: tmpDir() }, 'sqlite');
  });

  test('two processes on one PostgreSQL database', { skip: pgSkip }, async () => {
    const db = await createPgDatabase();
    try {
      await claimRace({ PADDOCK_DATA_DIR: tmpDir(), DATABASE_URL: db.url });
      await race({ PADDOCK_DATA_DIR: tmpDir(), DATABASE_URL: db.url }, 'pg');
    } finally {
      await db.drop();
    }
  });
});
