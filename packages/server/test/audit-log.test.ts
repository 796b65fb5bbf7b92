// The audit log as an operator reads it with `paddock audit`: every administrative act done with the
// CLI, by the operating-system user on this host; the sweep's notices and disabling, by the system; acts
// done through the server, by request id and IP; newest last; filters; and never a secret.
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, test } from 'node:test';
import { secretHash } from '../src/clients/registry.ts';
import { systemClock } from '../src/clock.ts';
import { loadConfig } from '../src/config.ts';
import { audit, requestActor } from '../src/jobs/audit.ts';
import { mask } from '../src/oauth/masking.ts';
import { openStore } from '../src/store/index.ts';
import { cli, cliOk, noteSecret, tmpDir } from './helpers.ts';
import { inDays } from './lifecycle.ts';

const dataDir = tmpDir();
const env = { PADDOCK_DATA_DIR: dataDir };
const ok = (args: string[], input?: string) => cliOk(args, { env, input });
const CLI_ACTOR = { type: 'cli', user: os.userInfo().username, host: os.hostname() };
const SWEEP_ACTOR = { type: 'system', job: 'inactivity-sweep', host: os.hostname() };

const USER = 'audit.me@example.com';
const PASSWORDS = ['first-Correct-Horse-1', 'second-Battery-Staple-2'];
const CLIENT = 'audited-app';

describe('paddock audit', () => {
  const secrets: string[] = [...PASSWORDS, ...PASSWORDS.map((p) => mask(p, USER))];
  noteSecret(...secrets);
  let userId: string;
  let kid: string;

  test('records each administrative act, in order, with its actor and what changed', async () => {
    userId = (
      await ok(['users', 'add', USER, '--name', 'Audit Me', '--password-stdin', '--json'], PASSWORDS[0])
    ).json().user_id;
    const added = (
      await ok([
        'clients',
        'add',
        CLIENT,
        '--name',
        'Audited',
        '--grant',
        'password_limited',
        '--grant',
        'refresh_token',
        '--developer-email',
        'dev@audited.example',
        '--json',
      ])
    ).json();
    await ok([
      'clients',
      'update',
      CLIENT,
      '--name',
      'Audited app',
      '--owner-email',
      'owner@audited.example',
    ]);
    await ok(['clients', 'allow-user', CLIENT, USER]);
    await ok(['clients', 'disallow-user', CLIENT, USER]);
    const rotated = (await ok(['clients', 'rotate-secret', CLIENT, '--json'])).json();
    for (const s of [added.client_secret, rotated.client_secret]) {
      secrets.push(s, mask(s, CLIENT), secretHash(s, CLIENT));
      noteSecret(s, mask(s, CLIENT));
    }
    await ok(['clients', 'disable', CLIENT]);
    await ok(['clients', 'enable', CLIENT]);
    await ok(['users', 'set-password', USER, '--password-stdin'], PASSWORDS[1]);
    await ok(['users', 'set-subscription', USER, 'inactive']);
    kid = (await ok(['keys', 'rotate', '--json'])).json().kid;
    await ok(['clients', 'sweep-inactive', '--as-of', inDays(180)]);
    await ok(['clients', 'delete', CLIENT, '--yes']);

    const entries = (await ok(['audit', '--json'])).json();
    assert.deepEqual(
      entries.map((e: any) => [e.action, e.object.type, e.object.id]),
      [
        ['user.created', 'user', userId],
        ['client.created', 'client', CLIENT],
        ['client.updated', 'client', CLIENT],
        ['client.user_allowed', 'client', CLIENT],
        ['client.user_disallowed', 'client', CLIENT],
        ['client.secret_rotated', 'client', CLIENT],
        ['client.disabled', 'client', CLIENT],
        ['client.enabled', 'client', CLIENT],
        ['user.password_set', 'user', userId],
        ['user.subscription_changed', 'user', userId],
        ['signing_key.rotated', 'signing_key', kid],
        ['client.disabled', 'client', CLIENT],
        ['client.inactivity_notice', 'client', CLIENT],
        ['client.deleted', 'client', CLIENT],
      ],
    );
    const sweepActs = new Set([11, 12]);
    entries.forEach((e: any, i: number) => {
      assert.deepEqual(e.actor, sweepActs.has(i) ? SWEEP_ACTOR : CLI_ACTOR, `${e.action}'s actor`);
      assert.match(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    });
    const changes = (i: number) => entries[i].changes;
    assert.equal(changes(0).username, USER);
    assert.deepEqual(changes(1).grant_types, ['password_limited', 'refresh_token']);
    assert.equal(changes(1).developer_email, 'dev@audited.example');
    assert.deepEqual(changes(2), { client_name: 'Audited app', owner_email: 'owner@audited.example' });
    assert.deepEqual(changes(3), { username: USER });
    assert.deepEqual(changes(5), { client_secret: '(changed)' });
    assert.deepEqual(changes(6), { disabled: true });
    assert.equal(changes(7).disabled, false);
    assert.deepEqual(changes(9), { subscription: 'inactive' });
    assert.equal(changes(10).alg, 'EdDSA');
    assert.deepEqual(changes(11), { disabled: true, reason: 'unused for 180 days' });
    assert.deepEqual(changes(12), {
      notice: 'final',
      days_unused: 180,
      recipient: 'owner@audited.example',
      via: 'outbox',
    });
  });

  test('no secret appears in it: no client secret, password, masked form or hash', async () => {
    const text = (await ok(['audit'])).stdout + (await ok(['audit', '--json'])).stdout;
    assert.ok(text.length > 1000);
    for (const s of secrets) assert.ok(!text.includes(s), 'a secret in the audit log');
    assert.doesNotMatch(text, /\$argon2/);
  });

  test('prints one act per line, newest last; --object and --since narrow it', async () => {
    const lines = (await ok(['audit'])).stdout.trimEnd().split('\n');
    assert.equal(lines.length, 14);
    assert.match(
      lines[1]!,
      new RegExp(
        `^\\S+Z  ${CLI_ACTOR.user}@${CLI_ACTOR.host}  client\\.created  client ${CLIENT}  client_name="Audited"`,
      ),
    );
    assert.match(lines[13]!, /client\.deleted {2}client audited-app/);

    const byUser = (await ok(['audit', '--object', USER, '--json'])).json();
    assert.deepEqual(
      byUser.map((e: any) => e.action),
      ['user.created', 'user.password_set', 'user.subscription_changed'],
    );
    const byClient = (await ok(['audit', '--object', CLIENT, '--json'])).json();
    assert.equal(byClient.length, 10);
    assert.equal((await ok(['audit', '--since', inDays(1)])).stdout, '(none)\n');
    assert.equal((await ok(['audit', '--since', inDays(-1), '--json'])).json().length, 14);
    const bad = await cli(['audit', '--since', 'yesterday'], { env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /^paddock: --since must be a date \(YYYY-MM-DD\) or an ISO 8601 time[^\n]*\n$/);
  });

  test('an act done through the server is recorded with its request id and IP; secret values never', async () => {
    const store = await openStore(loadConfig(env), 0);
    try {
      await audit(
        { store, clock: systemClock },
        requestActor({ id: '0b6f2a7e-request', ip: '203.0.113.9' }),
        'session.revoked',
        { type: 'session', id: 'session-1' },
        {
          reason: 'revoked by staff',
          client_secret: 'oops-a-secret',
          password: 'oops-a-password',
          refresh_token: 'oops-a-token',
          refresh_token_ttl: 600,
        },
      );
    } finally {
      await store.close();
    }
    const [entry] = (await ok(['audit', '--object', 'session-1', '--json'])).json();
    assert.deepEqual(entry.actor, { type: 'http', request_id: '0b6f2a7e-request', ip: '203.0.113.9' });
    assert.deepEqual(entry.changes, {
      reason: 'revoked by staff',
      client_secret: '(changed)',
      password: '(changed)',
      refresh_token: '(changed)',
      refresh_token_ttl: 600,
    });
    assert.match(
      (await ok(['audit', '--object', 'session-1'])).stdout,
      /request 0b6f2a7e-request from 203\.0\.113\.9/,
    );
  });
});
