// `paddock clients delete ID [--yes]` as an operator meets it: it asks on a terminal (run here under
// script(1), a real pseudo-terminal), refuses without one unless --yes, and removes the client with
// everything that hangs on it while the server runs on the same data dir.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { inviteUser } from '../src/clients/invitations.ts';
import { cliActor } from '../src/jobs/audit.ts';
import { assertBookError } from './assertions.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { cli, cliOk, PADDOCK, startInProcess, type TestServer } from './helpers.ts';
import { Browser } from './http-browser.ts';
import { authorizeToCode } from './lifecycle.ts';

const run = promisify(execFile);
const CB = 'https://doomed.example/cb';
const TABLES = [
  'sessions',
  'refresh_tokens',
  'authorization_codes',
  'authorization_requests',
  'consents',
  'client_users',
  'client_invitations',
  'client_notices',
] as const;

let server: TestServer;
let h: Headless;
let refreshToken: string;

/** Rows that belong to the client, per table. */
async function rows(clientId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of [...TABLES, 'clients']) {
    const [r] = await server.ctx!.store.db.all<{ n: number }>(
      `SELECT COUNT(*) AS n FROM ${t} WHERE client_id = ?`,
      [clientId],
    );
    out[t] = Number(r!.n);
  }
  return out;
}

/** The command under a pseudo-terminal, answering `answer` to its question. */
async function onTerminal(args: string[], answer: string) {
  const command = [process.execPath, ...PADDOCK, ...args]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const child = run('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...server.env } });
  child.child.stdin!.end(`${answer}\n`);
  return child.then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );
}

before(async () => {
  server = await startInProcess({ name: 'client-delete' });
  h = await headless(server.ctx!.store, {
    client: { grant_types: ['authorization_code', 'refresh_token', 'password_limited'], redirect_uris: [CB] },
  });
  // A session with a refresh token, a consent and an unexchanged code, an unfinished /authorize, a notice.
  refreshToken = (await login(server, h)).body.refresh_token;
  await authorizeToCode(server, new Browser(), h, CB);
  const pending = new URLSearchParams({ client_id: h.clientId, redirect_uri: CB, response_type: 'code' });
  await fetch(`${server.url}/oauth2/authorize?${pending}`, { redirect: 'manual' });
  await server.ctx!.store.lifecycle.claimNotice({ client_id: h.clientId, period_start: 1, notice: '90' }, 2);
  await inviteUser(server.ctx!, h.clientId, 'invited@example.com', { actor: cliActor() });
  for (const [table, n] of Object.entries(await rows(h.clientId))) assert.ok(n > 0, `a row in ${table}`);
});
after(() => server.stop());

describe('paddock clients delete', () => {
  test('without a terminal and without --yes it refuses with one line and deletes nothing', async () => {
    const r = await cli(['clients', 'delete', h.clientId], { env: server.env });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^paddock: clients delete asks for confirmation on a terminal; add --yes[^\n]*\n$/,
    );
    assert.equal((await rows(h.clientId)).clients, 1);
  });

  test('on a terminal it asks first; an answer other than yes keeps the client', async () => {
    const r = await onTerminal(['clients', 'delete', h.clientId], 'n');
    assert.notEqual(r.code, 0);
    assert.match(r.out, new RegExp(`Delete client ${h.clientId} \\("Test client"\\) with its 1 sessions`));
    assert.match(r.out, /\[y\/N\]/);
    assert.match(r.out, /was not deleted/);
    assert.equal((await rows(h.clientId)).clients, 1);
    assert.equal((await refresh(server, h, refreshToken)).status, 200, 'still works');
  });

  test('"y" removes the client with its sessions, refresh tokens, codes, consents, requests, access list and notices', async () => {
    const r = await onTerminal(['clients', 'delete', h.clientId], 'y');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /deleted\s+true/);
    assert.deepEqual(await rows(h.clientId), Object.fromEntries([...TABLES, 'clients'].map((t) => [t, 0])));
    assert.ok(await server.ctx!.store.users.byId(h.userId), 'the user stays');
    await assertBookError(server.issuer, await login(server, h), 403, 'invalid_client', /client_id/);

    const audit = (await cliOk(['audit', '--object', h.clientId, '--json'], { env: server.env })).json();
    const deleted = audit.find((a: any) => a.action === 'client.deleted');
    assert.deepEqual(deleted.actor, { type: 'cli', user: os.userInfo().username, host: os.hostname() });
    assert.deepEqual(deleted.changes, {
      client_name: 'Test client',
      sessions_removed: 1,
      consents_removed: 1,
      access_list_removed: 1,
    });
  });

  test('--yes deletes without asking; an unknown client is one line', async () => {
    const other = await headless(server.ctx!.store);
    const r = await cliOk(['clients', 'delete', other.clientId, '--yes', '--json'], { env: server.env });
    assert.deepEqual(r.json(), { client_id: other.clientId, deleted: true });
    const again = await cli(['clients', 'delete', other.clientId, '--yes'], { env: server.env });
    assert.notEqual(again.code, 0);
    assert.equal(again.stderr, `paddock: no client ${other.clientId}\n`);
  });
});
