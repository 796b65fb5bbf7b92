// `paddock clients sweep-inactive` as an operator runs it (--dry-run, --as-of, --json), and the sweep that
// `paddock serve` runs on its own schedule. Without PADDOCK_SMTP_URL the notices go to outbox/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { DAY } from '../src/clients/inactivity.ts';
import { createClient } from '../src/clients/registry.ts';
import { loadConfig } from '../src/config.ts';
import type { SweepOutcome } from '../src/jobs/inactivity-sweep.ts';
import { openStore } from '../src/store/index.ts';
import { cli, cliOk, noteSecret, startProcess, tmpDir } from './helpers.ts';
import { inDays } from './lifecycle.ts';

describe('paddock clients sweep-inactive: --dry-run changes nothing, --as-of previews a future date', () => {
  const dataDir = tmpDir();
  const env = { PADDOCK_DATA_DIR: dataDir };
  const sweepCli = (...args: string[]) => cliOk(['clients', 'sweep-inactive', ...args], { env });

  /** Everything a sweep could change: clients, notices, audit log, outbox. */
  async function state() {
    const store = await openStore(loadConfig(env), 0);
    try {
      return {
        clients: await store.db.all('SELECT * FROM clients ORDER BY client_id'),
        notices: await store.lifecycle.allNotices(),
        audit: await store.auditLog.list(),
        outbox: fs.existsSync(path.join(dataDir, 'outbox'))
          ? fs.readdirSync(path.join(dataDir, 'outbox'))
          : null,
      };
    } finally {
      await store.close();
    }
  }

  before(async () => {
    await cliOk(
      ['clients', 'add', 'preview-app', '--name', 'Preview', '--developer-email', 'dev@preview.example'],
      { env },
    );
    await cliOk(
      [
        'clients',
        'add',
        'other-app',
        '--name',
        'Other',
        '--type',
        'public',
        '--owner-email',
        'o@other.example',
      ],
      {
        env,
      },
    );
  });

  test('today and 89 days ahead nothing is due', async () => {
    assert.equal((await sweepCli()).stdout, 'no client is due an inactivity notice\n');
    assert.deepEqual((await sweepCli('--as-of', inDays(89), '--json')).json(), []);
  });

  test('--dry-run --as-of +90 and +180 report what would be done and change nothing', async () => {
    const before = await state();
    const at90 = (await sweepCli('--dry-run', '--as-of', inDays(90), '--json')).json();
    assert.deepEqual(
      at90.map((o: SweepOutcome) => [
        o.client_id,
        o.days_unused,
        o.notice,
        o.recipient,
        o.sent,
        o.disabled,
        o.dry_run,
      ]),
      [
        ['other-app', 90, '90', 'o@other.example', false, false, true],
        ['preview-app', 90, '90', 'dev@preview.example', false, false, true],
      ],
    );
    const at180 = await sweepCli('--dry-run', '--as-of', inDays(180));
    assert.match(at180.stdout, /^CLIENT\s+DAYS UNUSED\s+NOTICE\s+RECIPIENT\s+RESULT\n/);
    assert.match(
      at180.stdout,
      /preview-app\s+180\s+final\s+dev@preview\.example\s+would disable, would send\n/,
    );
    assert.deepEqual(await state(), before, 'no claim, no disabling, no audit entry, no outbox');
    assert.equal(before.outbox, null);
  });

  test('--as-of +180 without --dry-run: disabled, the final notice written to the outbox; again: nothing', async () => {
    const r = await sweepCli('--as-of', inDays(180));
    assert.match(r.stdout, /preview-app\s+180\s+final\s+dev@preview\.example\s+disabled, sent\n/);
    assert.match(r.stderr, /"to":"dev@preview\.example"/, 'the delivery is logged on stderr');
    const s = await state();
    assert.equal(s.outbox?.length, 2);
    assert.ok(s.clients.every((c: any) => c.disabled_at !== null));
    assert.equal((await sweepCli('--as-of', inDays(180))).stdout, 'no client is due an inactivity notice\n');
  });

  test('a bad --as-of is refused with one line', async () => {
    const r = await cli(['clients', 'sweep-inactive', '--as-of', '2030-02-30'], { env });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^paddock: --as-of must be a date as YYYY-MM-DD[^\n]*\n$/);
  });
});

describe('paddock serve runs the sweep on its schedule', () => {
  test('PADDOCK_SWEEP_INTERVAL=1: a client unused for 91 days gets its notice shortly after start', async () => {
    const dataDir = tmpDir();
    const store = await openStore(loadConfig({ PADDOCK_DATA_DIR: dataDir }), 0);
    const now = Math.floor(Date.now() / 1000);
    try {
      const { client_secret } = await createClient(
        store,
        { client_id: 'old-app', client_name: 'Old', developer_email: 'dev@old.example' },
        now - 91 * DAY,
      );
      noteSecret(client_secret);
    } finally {
      await store.close();
    }
    const server = await startProcess({ dataDir, env: { PADDOCK_SWEEP_INTERVAL: '1' }, name: 'serve-sweep' });
    try {
      const outbox = path.join(dataDir, 'outbox');
      const deadline = Date.now() + 20_000;
      while (!(fs.existsSync(outbox) && fs.readdirSync(outbox).length > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const files = fs.existsSync(outbox) ? fs.readdirSync(outbox) : [];
      assert.equal(files.length, 1, server.output());
      const mail = await simpleParser(fs.readFileSync(path.join(outbox, files[0]!)));
      assert.match(mail.subject ?? '', /\(old-app\) unused for 91 days/);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(fs.readdirSync(outbox).length, 1, 'later sweeps send it no second time');
      const audit = (await cliOk(['audit', '--object', 'old-app', '--json'], { env: server.env })).json();
      assert.deepEqual(
        audit.map((a: any) => [a.action, a.actor.type, a.actor.job]),
        [['client.inactivity_notice', 'system', 'inactivity-sweep']],
      );
    } finally {
      await server.stop();
    }
  });
});
