// The developer portal's #secret and #access-list over HTTP: rotation with the page's default overlap (both
// secrets work at /oauth2/token until it ends, then only the new one; the client's page and the secret
// page say when the old one stops), and invitations by email (listed with their status, the fourth
// refused in the words of clients/invitations.ts, another developer's client 404 with nothing written).
// Time is moved with the injected clock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { approveInvitation, declineInvitation, listInvitations } from '../src/clients/invitations.ts';
import { cliActor } from '../src/jobs/audit.ts';
import type { Store } from '../src/store/store.ts';
import { headlessOf, login } from './fixtures.ts';
import { newUser } from './flow.ts';
import { cli, noteSecret, startInProcess, TestClock, type TestServer } from './helpers.ts';
import type { Browser } from './http-browser.ts';
import { alertOf, decode, developer, PORTAL, portalBrowser, register, submit, uniqueId } from './portal.ts';

const HOUR = 3600;
const DAY = 24 * HOUR;
const clock = new TestClock();
let server: TestServer;
let store: Store;
const nowS = () => Math.floor(clock.now() / 1000);
/** A time as the portal shows it. */
const shown = (t: number) => new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ');

before(async () => {
  server = await startInProcess({
    name: 'developer-portal-access',
    clock,
    env: {
      PADDOCK_SELF_SERVICE: 'on',
      PADDOCK_PASSWORD_LIMITED_LIMIT: '1000',
      PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000',
      PADDOCK_SELF_SERVICE_MAX_ACCESS_TOKEN_TTL: '1800',
    },
  });
  store = server.ctx!.store;
});
after(() => server?.stop());

/** Registers a confidential password_limited client in the portal; returns its id and its secret. */
async function headlessClient(b: Browser, fields: Record<string, string> = {}) {
  const id = uniqueId('portal-headless');
  const created = await register(b, server, {
    client_id: id,
    client_name: 'Pit Board',
    client_type: 'confidential',
    'grant:password_limited': '1',
    'grant:refresh_token': '1',
    ...fields,
  });
  assert.equal(created.status, 303, created.text);
  return { clientId: id, secret: secretOn((await b.open(created.location!)).text) };
}

function secretOn(html: string): string {
  const m = /<code class="secret" id="client-secret">([^<]+)<\/code>/.exec(html);
  assert.ok(m, 'a secret on the page');
  const secret = decode(m[1]!);
  noteSecret(secret);
  return secret;
}

describe('rotation with overlap in the developer portal', () => {
  test('the default overlap is 24 hours: both secrets work until it ends, then only the new one', async () => {
    const { user, b } = await developer(server, store);
    const client = await headlessClient(b);
    await store.allowUser(client.clientId, user.userId, nowS());
    const page = `${PORTAL}/clients/${client.clientId}`;

    const before = await b.open(`${server.url}${page}`);
    const select = /<select id="overlap" name="overlap">([\s\S]*?)<\/select>/.exec(before.text);
    assert.ok(select, 'an overlap choice in #secret');
    const options = [...select[1]!.matchAll(/<option value="([^"]*)"( selected)?>/g)];
    assert.deepEqual(
      options.map((o) => o[1]),
      ['0', '1h', '24h', '7d'],
    );
    const chosen = options.find((o) => o[2])![1]!;
    assert.equal(chosen, '24h', 'preselected');

    const rotated = await submit(b, server, page, `${page}/rotate-secret`, { overlap: chosen });
    assert.equal(rotated.status, 303, rotated.text);
    const secretPage = await b.open(rotated.location!);
    const fresh = secretOn(secretPage.text);
    const ends = nowS() + DAY;
    assert.match(
      secretPage.text,
      new RegExp(`previous secret keeps working until <strong>${shown(ends)} UTC</strong>`),
    );
    const clientPage = await b.open(`${server.url}${page}`);
    assert.match(
      clientPage.text,
      new RegExp(`previous secret works until <strong>${shown(ends)} UTC</strong>`),
    );
    assert.match(clientPage.text, /<code>client\.secret_rotated<\/code><span class="meta">[^<]*you, request/);
    assert.match(clientPage.text, /overlap_seconds: 86400/);

    const old = headlessOf(client, user);
    const renewed = headlessOf({ ...client, secret: fresh }, user);
    assert.equal((await login(server, old)).status, 200, 'the old secret works during the overlap');
    assert.equal((await login(server, renewed)).status, 200, 'the new secret works at once');
    clock.advance(DAY);
    const refused = await login(server, old);
    assert.equal(refused.body?.error, 'invalid_client', refused.text);
    assert.equal((await login(server, renewed)).status, 200, 'the new secret still works');

    // Signed in again (the browser session has ended meanwhile): no overlap to show any more.
    const after = await (await portalBrowser(server, user)).open(`${server.url}${page}`);
    assert.equal(after.status, 200);
    assert.doesNotMatch(after.text, /previous secret works until/);
  });

  test('an overlap outside the bounds is refused on the page and changes nothing', async () => {
    const { user, b } = await developer(server, store);
    const client = await headlessClient(b);
    await store.allowUser(client.clientId, user.userId, nowS());
    const page = `${PORTAL}/clients/${client.clientId}`;
    for (const bad of ['31d', 'soon', '-1h']) {
      const r = await submit(b, server, page, `${page}/rotate-secret`, { overlap: bad });
      assert.equal(r.status, 400, r.text);
      assert.equal(
        alertOf(r),
        `the overlap must be 0 or a duration such as 90m, 24h or 7d (at most 30d), got "${bad}"`,
      );
    }
    assert.equal((await login(server, headlessOf(client, user))).status, 200, 'the secret did not change');
  });
});

describe('invitations in the developer portal', () => {
  test('invited users are listed with their status; the fourth invitation is refused', async () => {
    const { user, b } = await developer(server, store);
    const client = await headlessClient(b);
    const page = `${PORTAL}/clients/${client.clientId}`;
    const users = [await newUser(store, 'Ann'), await newUser(store, 'Ben'), await newUser(store, 'Cy')];
    for (const u of users) {
      const r = await submit(b, server, page, `${page}/invite`, { email: u.username.toUpperCase() });
      assert.equal(r.status, 200, r.text);
      assert.match(r.text, new RegExp(`Invited ${u.username}`));
    }
    const listed = await b.open(`${server.url}${page}`);
    const expires = shown(nowS() + 7 * DAY).slice(0, 10);
    for (const u of users) {
      assert.match(
        listed.text,
        new RegExp(`<li><div>${u.username}<span class="meta">pending · expires ${expires}`),
      );
    }

    const fourth = await newUser(store, 'Dee');
    const refused = await submit(b, server, page, `${page}/invite`, { email: fourth.username });
    assert.equal(refused.status, 409, refused.text);
    const operator = await cli(['clients', 'invite', client.clientId, fourth.username], {
      env: { PADDOCK_DATA_DIR: server.dataDir },
    });
    assert.equal(operator.code, 1);
    assert.equal(alertOf(refused), operator.stderr.trim().replace(/^paddock: /, ''));
    assert.match(alertOf(refused), /at most 3 users/);
    assert.equal((await listInvitations(server.ctx!, client.clientId)).length, 3);

    const invalid = await submit(b, server, page, `${page}/invite`, { email: 'not-an-address' });
    assert.equal(invalid.status, 400);
    assert.equal(alertOf(invalid), '"not-an-address" is not an email address');

    // Answers show on the page: approved, declined; a pending one past its 7 days, expired.
    const [ann, ben] = users;
    const inv = await listInvitations(server.ctx!, client.clientId);
    const idOf = (name: string) => inv.find((i) => i.username === name)!.invitation_id;
    await approveInvitation(
      server.ctx!,
      idOf(ann!.username),
      { user_id: ann!.userId, username: ann!.username },
      { actor: cliActor() },
    );
    await declineInvitation(
      server.ctx!,
      idOf(ben!.username),
      { user_id: ben!.userId, username: ben!.username },
      { actor: cliActor() },
    );
    const answered = await b.open(`${server.url}${page}`);
    assert.match(answered.text, new RegExp(`<li><div>${ann!.username}<span class="meta">approved`));
    assert.match(answered.text, new RegExp(`<li><div>${ben!.username}<span class="meta">declined`));
    clock.advance(7 * DAY + 1);
    const expired = await (await portalBrowser(server, user)).open(`${server.url}${page}`);
    assert.match(expired.text, new RegExp(`<li><div>${users[2]!.username}<span class="meta">expired`));
  });

  test("inviting on another developer's client answers 404 and writes nothing", async () => {
    const alice = await developer(server, store, 'Alice');
    const bob = await developer(server, store, 'Bob');
    const client = await headlessClient(alice.b);
    const target = await newUser(store, 'Eve');
    const r = await submit(bob.b, server, `${PORTAL}/new`, `${PORTAL}/clients/${client.clientId}/invite`, {
      email: target.username,
    });
    assert.equal(r.status, 404, r.text);
    assert.deepEqual(await listInvitations(server.ctx!, client.clientId), []);
    const audit = await store.auditLog.list({ objectId: client.clientId });
    assert.ok(!audit.some((e) => e.action === 'client.user_invited'));
  });
});

describe("token lifetimes in the developer portal, within the operator's bounds", () => {
  test('a lifetime chosen at registration is what the token endpoint grants; an edit changes it', async () => {
    const { user, b } = await developer(server, store);
    const form = await b.open(`${server.url}${PORTAL}/new`);
    assert.match(form.text, /<label for="access_token_ttl">Access-token lifetime \(seconds\)/);
    assert.match(form.text, /<label for="refresh_token_ttl">Refresh-token lifetime \(seconds\)/);
    assert.match(form.text, /at most 1800/);
    assert.match(form.text, /at most 2592000/);
    const client = await headlessClient(b, { access_token_ttl: '1200', refresh_token_ttl: '86400' });
    await store.allowUser(client.clientId, user.userId, nowS());
    const first = await login(server, headlessOf(client, user));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.expires_in, 1200);
    assert.equal((await store.getClient(client.clientId))!.refresh_token_ttl, 86400);

    const page = `${PORTAL}/clients/${client.clientId}`;
    const shown = await b.open(`${server.url}${page}`);
    assert.match(shown.text, /id="access_token_ttl"[^>]*value="1200"/);
    const saved = await submit(b, server, page, `${page}/update`, {
      client_name: 'Pit Board',
      'grant:password_limited': '1',
      'grant:refresh_token': '1',
      access_token_ttl: '300',
      refresh_token_ttl: '',
    });
    assert.equal(saved.status, 200, saved.text);
    const second = await login(server, headlessOf(client, user));
    assert.equal(second.body.expires_in, 300);
    assert.equal((await store.getClient(client.clientId))!.refresh_token_ttl, 86400, 'blank: unchanged');
  });

  test('a blank lifetime is the default at registration', async () => {
    const { b } = await developer(server, store);
    const client = await headlessClient(b, { access_token_ttl: '', refresh_token_ttl: '' });
    const c = (await store.getClient(client.clientId))!;
    assert.deepEqual([c.access_token_ttl, c.refresh_token_ttl], [600, 604800]);
  });

  test('above the bound: refused, naming it, and nothing is written', async () => {
    const { b } = await developer(server, store);
    const id = uniqueId('portal-long');
    const page = await register(b, server, { client_id: id, client_name: 'Long', access_token_ttl: '1801' });
    assert.equal(page.status, 400, page.text);
    assert.match(
      alertOf(page),
      /access-token lifetime of 1801 seconds.*at most 1800 seconds.*PADDOCK_SELF_SERVICE_MAX_ACCESS_TOKEN_TTL/,
    );
    assert.equal(await store.getClient(id), undefined);
    const long = await register(b, server, {
      client_id: id,
      client_name: 'Long',
      refresh_token_ttl: '2592001',
    });
    assert.equal(long.status, 400, long.text);
    assert.match(alertOf(long), /at most 2592000 seconds.*PADDOCK_SELF_SERVICE_MAX_REFRESH_TOKEN_TTL/);
    assert.equal(await store.getClient(id), undefined);

    const client = await headlessClient(b);
    const url = `${PORTAL}/clients/${client.clientId}`;
    const audits = (await store.auditLog.list({ objectId: client.clientId })).length;
    const edit = await submit(b, server, url, `${url}/update`, {
      client_name: 'Renamed',
      'grant:password_limited': '1',
      access_token_ttl: '3600',
    });
    assert.equal(edit.status, 400, edit.text);
    assert.match(alertOf(edit), /at most 1800 seconds/);
    const c = (await store.getClient(client.clientId))!;
    assert.deepEqual([c.client_name, c.access_token_ttl], ['Pit Board', 600]);
    assert.equal((await store.auditLog.list({ objectId: client.clientId })).length, audits);
  });

  test("not a whole number of seconds: refused in the CLI's words", async () => {
    const { b } = await developer(server, store);
    for (const [field, flag] of [
      ['access_token_ttl', '--access-token-ttl'],
      ['refresh_token_ttl', '--refresh-token-ttl'],
    ] as const) {
      for (const value of ['abc', '0', '1.5', '-3']) {
        const r = await cli(['clients', 'add', uniqueId('cli-ttl'), '--name', 'N', flag, value], {
          env: { PADDOCK_DATA_DIR: server.dataDir },
        });
        assert.equal(r.code, 1, r.stdout);
        const id = uniqueId('portal-ttl');
        const page = await register(b, server, { client_id: id, client_name: 'N', [field]: value });
        assert.equal(page.status, 400, page.text);
        assert.equal(alertOf(page), r.stderr.trim().replace(/^paddock: /, ''));
        assert.equal(await store.getClient(id), undefined);
      }
    }
    const client = await headlessClient(b);
    const url = `${PORTAL}/clients/${client.clientId}`;
    const edit = await submit(b, server, url, `${url}/update`, { client_name: 'P', access_token_ttl: 'abc' });
    assert.equal(edit.status, 400, edit.text);
    assert.equal(alertOf(edit), '--access-token-ttl must be a whole number of seconds');
  });
});
