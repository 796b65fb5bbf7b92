// The password_limited access list by invitation: a developer (here the operator's CLI and the module the
// portal calls) invites a user by email; the grant is refused until the user approves on the account
// page, works after, and stops when the user withdraws (their sessions of that client end, so the refresh
// token gets invalid_grant). Pending and approved users count toward the book's three; invitations
// expire after seven days; nobody can answer an invitation addressed to someone else.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium } from 'playwright-core';
import {
  approveInvitation,
  InvitationError,
  inviteUser,
  listInvitations,
  withdrawApproval,
} from '../src/clients/invitations.ts';
import { createClient } from '../src/clients/registry.ts';
import { cliActor } from '../src/jobs/audit.ts';
import { chromiumSkip, launchChromium } from './chromium.ts';
import { signInOnAccountPage } from './chromium-flow.ts';
import { headlessOf, login, refresh } from './fixtures.ts';
import { newUser, type TestUser } from './flow.ts';
import {
  cli,
  cliOk,
  createPgDatabase,
  noteSecret,
  OUTPUT,
  pgSkip,
  startInProcess,
  TestClock,
  type TestServer,
} from './helpers.ts';
import { Browser, hidden } from './http-browser.ts';

const DAY = 86400;
const DEVELOPER = 'dev@gridbot.example';
const SCREENSHOTS = path.join(OUTPUT, 'screenshots');

const clock = new TestClock();
let server: TestServer;
let seq = 0;

before(async () => {
  server = await startInProcess({
    name: 'invitations',
    clock,
    env: { PADDOCK_PASSWORD_LIMITED_LIMIT: '1000', PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000' },
  });
});
after(() => server?.stop());

const store = () => server.ctx!.store;
const env = () => ({ PADDOCK_DATA_DIR: server.dataDir });
const nowS = () => Math.floor(clock.now() / 1000);

/** A confidential password_limited client with an empty access list. */
async function gridBot(): Promise<{ clientId: string; secret: string; name: string }> {
  const clientId = `gridbot-${process.pid}-${++seq}`;
  const name = `Grid Bot ${seq}`;
  const { client_secret } = await createClient(
    store(),
    {
      client_id: clientId,
      client_name: name,
      grant_types: ['password_limited', 'refresh_token'],
      owner_email: DEVELOPER,
    },
    nowS(),
  );
  noteSecret(client_secret);
  return { clientId, secret: client_secret!, name };
}

/** Signs in on the account page's own sign-in with the HTTP browser; returns the account page's HTML. */
async function accountSignIn(b: Browser, user: TestUser): Promise<string> {
  const login = await b.open(`${server.url}/oauth2/account/login`);
  assert.equal(login.status, 200, login.text);
  const r = await b.open(`${server.url}/oauth2/account/login`, {
    form: {
      request_id: hidden(login.text, 'request_id'),
      csrf_token: hidden(login.text, 'csrf_token'),
      email: user.username,
      password: user.password,
    },
  });
  assert.equal(r.status, 303, r.text);
  const page = await b.open(`${server.url}/oauth2/account`);
  assert.equal(page.status, 200, page.text);
  return page.text;
}

async function auditActions(clientId: string): Promise<string[]> {
  const rows = await store().auditLog.list({ objectId: clientId });
  return rows.map((r) => r.action);
}

describe('invitations in Chromium', { skip: chromiumSkip }, () => {
  let chromium: Chromium;
  before(async () => {
    chromium = await launchChromium();
  });
  after(() => chromium?.close());

  test('refused before approval, works after, stops when the user withdraws', async (t) => {
    const client = await gridBot();
    const user = await newUser(store(), 'Sam Marshal');
    const h = headlessOf(client, user);

    const invited = await cliOk(
      ['clients', 'invite', client.clientId, user.username.toUpperCase(), '--json'],
      {
        env: env(),
      },
    );
    assert.equal(invited.json().username, user.username, 'the email is normalised as usernames are');
    assert.equal(invited.json().status, 'pending');
    const listed = (
      await cliOk(['clients', 'invitations', client.clientId, '--json'], { env: env() })
    ).json();
    assert.deepEqual(
      listed.map((i: any) => [i.username, i.status]),
      [[user.username, 'pending']],
    );

    const before = await login(server, h);
    assert.equal(before.status, 401, before.text);
    assert.equal(before.body.error, 'access_denied', 'refused before approval');

    const context = await chromium.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await signInOnAccountPage(page, server, user);
    const section = page.getByRole('region', { name: 'Invitations' });
    const row = section.getByRole('listitem').filter({ hasText: client.name });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', new RegExp(DEVELOPER.replace('.', '\\.')));
    await page.screenshot({ path: path.join(SCREENSHOTS, 'account-invitation-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'account-invitation-mobile.png'), fullPage: true });
    await row.getByRole('button', { name: 'Approve' }).click();
    await page.getByText(`${client.name} may now sign you in`).waitFor();

    const approved = await login(server, h);
    assert.equal(approved.status, 200, approved.text);
    assert.equal(
      (await cliOk(['clients', 'invitations', client.clientId, '--json'], { env: env() })).json()[0].status,
      'approved',
    );

    const allowed = page.getByRole('region', { name: 'Apps with your password' });
    await allowed
      .getByRole('listitem')
      .filter({ hasText: client.name })
      .getByRole('button', { name: 'Withdraw' })
      .click();
    await page.getByText(`${client.name} can no longer sign you in`).waitFor();

    const after = await refresh(server, h, approved.body.refresh_token);
    assert.equal(after.status, 400, after.text);
    assert.equal(after.body.error, 'invalid_grant', 'the session of that client ended');
    assert.equal((await login(server, h)).body.error, 'access_denied', 'and the grant is refused again');

    const actions = await auditActions(client.clientId);
    for (const a of ['client.user_invited', 'client.invitation_approved', 'client.user_withdrew']) {
      assert.ok(actions.includes(a), `${a} in ${actions}`);
    }
    const rows = await store().auditLog.list({ objectId: client.clientId });
    const approval = rows.find((r) => r.action === 'client.invitation_approved')!;
    const actor = JSON.parse(approval.actor);
    assert.equal(actor.type, 'http');
    assert.match(actor.request_id, /.+/);
    assert.equal(actor.ip, '127.0.0.1');
  });
});

describe('invitations', () => {
  const actor = cliActor();

  test('pending and approved users count toward three: a fourth invitation is refused', async () => {
    const client = await gridBot();
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => newUser(store())));
    await cliOk(['clients', 'allow-user', client.clientId, a!.username], { env: env() });
    await inviteUser(server.ctx!, client.clientId, b!.username, { actor });
    await inviteUser(server.ctx!, client.clientId, c!.username, { actor });
    await assert.rejects(
      inviteUser(server.ctx!, client.clientId, d!.username, { actor }),
      (e: Error) => e instanceof InvitationError && /at most 3/.test(e.message),
    );
    const r = await cli(['clients', 'invite', client.clientId, d!.username], { env: env() });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /at most 3 users/);
    const direct = await cli(['clients', 'allow-user', client.clientId, d!.username], { env: env() });
    assert.equal(direct.code, 1, 'a pending invitation holds its place against allow-user too');
    assert.equal((await listInvitations(server.ctx!, client.clientId)).length, 2);
  });

  test('an invitation for someone already invited or on the list is refused', async () => {
    const client = await gridBot();
    const user = await newUser(store());
    await inviteUser(server.ctx!, client.clientId, user.username, { actor });
    await assert.rejects(inviteUser(server.ctx!, client.clientId, user.username, { actor }), /already/);
  });

  test('a bad email or an unknown client is a clear error', async () => {
    const client = await gridBot();
    const bad = await cli(['clients', 'invite', client.clientId, 'not-an-email'], { env: env() });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /email/);
    const unknown = await cli(['clients', 'invite', 'no-such-client', 'x@example.com'], { env: env() });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no client/);
    const publicId = `public-${process.pid}-${++seq}`;
    await createClient(store(), { client_id: publicId, client_name: 'P', client_type: 'public' }, nowS());
    await assert.rejects(inviteUser(server.ctx!, publicId, 'x@example.com', { actor }), /password_limited/);
  });

  test('an expired invitation cannot be approved', async () => {
    const client = await gridBot();
    const user = await newUser(store());
    const inv = await inviteUser(server.ctx!, client.clientId, user.username, { actor });
    assert.match(await accountSignIn(new Browser(), user), /Approve/);
    clock.advance(7 * DAY + 1);
    // Signed in again (the browser session would not last a week): the page no longer offers it.
    const b = new Browser();
    const page = await accountSignIn(b, user);
    assert.doesNotMatch(page, /Approve/);
    const r = await b.open(`${server.url}/oauth2/account/invitations/approve`, {
      form: { csrf_token: hidden(page, 'csrf_token'), invitation: inv.invitation_id },
    });
    assert.equal(r.status, 410, r.text);
    assert.match(r.text, /expired/);
    assert.equal((await login(server, headlessOf(client, user))).body.error, 'access_denied');
    const [listed] = await listInvitations(server.ctx!, client.clientId);
    assert.equal(listed!.status, 'expired');
    assert.ok((await auditActions(client.clientId)).includes('client.invitation_expired_refused'));
  });

  test('a user cannot approve an invitation addressed to someone else', async () => {
    const client = await gridBot();
    const invitee = await newUser(store());
    const other = await newUser(store(), 'Mallory');
    const inv = await inviteUser(server.ctx!, client.clientId, invitee.username, { actor });
    const b = new Browser();
    const page = await accountSignIn(b, other);
    for (const action of ['approve', 'decline']) {
      const r = await b.open(`${server.url}/oauth2/account/invitations/${action}`, {
        form: { csrf_token: hidden(page, 'csrf_token'), invitation: inv.invitation_id },
      });
      assert.equal(r.status, 404, r.text);
      assert.match(r.text, /No such invitation/);
    }
    assert.equal((await login(server, headlessOf(client, other))).body.error, 'access_denied');
    const [listed] = await listInvitations(server.ctx!, client.clientId);
    assert.equal(listed!.status, 'pending', 'the invitation is untouched');
    assert.deepEqual(await store().allowedUsernames(client.clientId), []);
  });

  test('a form post without the page CSRF token changes nothing', async () => {
    const client = await gridBot();
    const user = await newUser(store());
    const inv = await inviteUser(server.ctx!, client.clientId, user.username, { actor });
    const b = new Browser();
    await accountSignIn(b, user);
    const r = await b.open(`${server.url}/oauth2/account/invitations/approve`, {
      form: { csrf_token: 'forged', invitation: inv.invitation_id },
    });
    assert.equal(r.status, 403, r.text);
    assert.deepEqual(await store().allowedUsernames(client.clientId), []);
  });

  test("the operator's disallow-user ends an approval the user gave", async () => {
    const client = await gridBot();
    const user = await newUser(store());
    const inv = await inviteUser(server.ctx!, client.clientId, user.username, { actor });
    await approveInvitation(
      server.ctx!,
      inv.invitation_id,
      { user_id: user.userId, username: user.username },
      {
        actor,
      },
    );
    assert.equal((await login(server, headlessOf(client, user))).status, 200);
    await cliOk(['clients', 'disallow-user', client.clientId, user.username], { env: env() });
    const listed = (
      await cliOk(['clients', 'invitations', client.clientId, '--json'], { env: env() })
    ).json();
    assert.equal(listed[0].status, 'withdrawn');
    assert.equal((await login(server, headlessOf(client, user))).body.error, 'access_denied');
  });

  test('a declined invitation frees its place and gives no access', async () => {
    const client = await gridBot();
    const user = await newUser(store());
    const inv = await inviteUser(server.ctx!, client.clientId, user.username, { actor });
    const b = new Browser();
    const page = await accountSignIn(b, user);
    const r = await b.open(`${server.url}/oauth2/account/invitations/decline`, {
      form: { csrf_token: hidden(page, 'csrf_token'), invitation: inv.invitation_id },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal((await login(server, headlessOf(client, user))).body.error, 'access_denied');
    const [listed] = await listInvitations(server.ctx!, client.clientId);
    assert.equal(listed!.status, 'declined');
    assert.ok((await auditActions(client.clientId)).includes('client.invitation_declined'));
    // Declined, the user may be invited again.
    await inviteUser(server.ctx!, client.clientId, user.username, { actor });
  });
});

describe('invitations on PostgreSQL', { skip: pgSkip }, () => {
  const actor = cliActor();
  let pgServer: TestServer;
  let drop: () => Promise<void>;
  before(async () => {
    const db = await createPgDatabase();
    drop = db.drop;
    pgServer = await startInProcess({
      name: 'invitations-pg',
      clock,
      env: { DATABASE_URL: db.url, PADDOCK_PASSWORD_LIMITED_LIMIT: '1000' },
    });
  });
  after(async () => {
    await pgServer?.stop();
    await drop?.();
  });

  test('invite, the fourth refused, approve, withdraw ends the sessions', async () => {
    const ctx = pgServer.ctx!;
    const clientId = `pg-gridbot-${process.pid}`;
    const { client_secret } = await createClient(
      ctx.store,
      { client_id: clientId, client_name: 'PG Bot', grant_types: ['password_limited', 'refresh_token'] },
      nowS(),
    );
    noteSecret(client_secret);
    const users = await Promise.all([1, 2, 3, 4].map(() => newUser(ctx.store)));
    const invs = [];
    for (const u of users.slice(0, 3)) invs.push(await inviteUser(ctx, clientId, u.username, { actor }));
    await assert.rejects(inviteUser(ctx, clientId, users[3]!.username, { actor }), /at most 3/);
    const h = headlessOf({ clientId, secret: client_secret! }, users[0]!);
    assert.equal((await login(pgServer, h)).body.error, 'access_denied');
    await approveInvitation(
      ctx,
      invs[0]!.invitation_id,
      { user_id: h.userId, username: h.username },
      { actor },
    );
    const ok = await login(pgServer, h);
    assert.equal(ok.status, 200, ok.text);
    const w = await withdrawApproval(ctx, clientId, { user_id: h.userId, username: h.username }, { actor });
    assert.equal(w.sessions_ended, 1);
    assert.equal((await refresh(pgServer, h, ok.body.refresh_token)).body.error, 'invalid_grant');
    const statuses = (await listInvitations(ctx, clientId)).map((i) => i.status).sort();
    assert.deepEqual(statuses, ['pending', 'pending', 'withdrawn']);
  });
});
