// The user's sessions on the account page: listed across apps, grouped by app, with device, place and
// times, a staff member's session marked with its note; "Revoke" ends one session and "Revoke all for"
// one app's, through the same revocation as the book's endpoints (a revoked session's refresh token then
// gets invalid_grant). In Chromium with JavaScript off (the page's forms work without it); over HTTP, a
// user cannot end another user's session, nor name an app they have no session with.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser as Chromium } from 'playwright-core';
import { startSession } from '../src/sessions/create.ts';
import { launchChromium, chromiumSkip as skip } from './chromium.ts';
import {
  authorizeInChromium,
  exchangeCode,
  fillPassword,
  pathOf,
  refreshAt,
  startApp,
} from './chromium-flow.ts';
import { pkcePair } from './code-flow.ts';
import { newClient, newUser, type TestUser } from './flow.ts';
import {
  cliOk,
  createPgDatabase,
  decodeJwt,
  LOG_DIR,
  noteSecret,
  OUTPUT,
  PG_URL,
  startInProcess,
  type TestServer,
  tmpDir,
} from './helpers.ts';
import { Browser, hidden } from './http-browser.ts';
import { buildMmdb } from './mmdb.ts';
import { formOf } from './page-flow.ts';

const NOTE = 'Support ticket 4711: checking the lap chart with the user, approved by them on the phone';
const now = () => Math.floor(Date.now() / 1000);
const sessionOf = (tokens: { access_token: string }): string =>
  decodeJwt(tokens.access_token).payload.session_id;

let server: TestServer;
let db: Awaited<ReturnType<typeof createPgDatabase>> | undefined;

/** A server on SQLite, or on a fresh PostgreSQL database when PADDOCK_TEST_DATABASE_URL is set. */
async function start(name: string, env: Record<string, string> = {}) {
  db = PG_URL ? await createPgDatabase() : undefined;
  server = await startInProcess({ name, env: { ...env, ...(db && { DATABASE_URL: db.url }) } });
}

async function stop() {
  await server?.stop();
  await db?.drop();
}

async function live(userId: string): Promise<string[]> {
  const sessions = await server.ctx!.store.sessions.liveOfUser(userId, undefined, now());
  return sessions.map((s) => s.session_id).sort();
}

describe('sessions on the account page in Chromium', { skip }, () => {
  let chromium: Chromium;
  let app: Awaited<ReturnType<typeof startApp>>;
  let lapTimer: { clientId: string; maskedSecret?: string };
  let gridPlanner: { clientId: string; maskedSecret?: string };

  before(async () => {
    chromium = await launchChromium();
    app = await startApp();
    await start('account-sessions');
    const input = {
      redirect_uris: [app.url],
      allow_http: true,
      client_type: 'confidential' as const,
      grant_types: ['authorization_code' as const, 'refresh_token' as const],
    };
    lapTimer = await newClient(server.ctx!.store, { ...input, client_name: 'Lap Timer' });
    gridPlanner = await newClient(server.ctx!.store, { ...input, client_name: 'Grid Planner' });
  });
  after(async () => {
    await chromium?.close();
    await app?.close();
    await stop();
  });

  async function impersonate(user: TestUser, clientId: string) {
    const r = await cliOk(
      ['sessions', 'impersonate', '--user', user.username, '--client', clientId, '--note', NOTE, '--json'],
      { env: server.env },
    );
    fs.mkdirSync(LOG_DIR, { recursive: true });
    fs.appendFileSync(path.join(LOG_DIR, `account-sessions-cli-${process.pid}.log`), r.stderr);
    const body = r.json();
    noteSecret(body.access_token, body.refresh_token);
    return body as { access_token: string; refresh_token: string; session_id: string };
  }

  test('grouped by app; Revoke ends one session, Revoke all ends exactly one app’s', async (t) => {
    const user = await newUser(server.ctx!.store, 'Sam Marshal');
    const context = await chromium.newContext({ javaScriptEnabled: false });
    context.setDefaultTimeout(15_000);
    t.after(() => context.close());
    const page = await context.newPage();
    const signIn = async (client: typeof lapTimer) => {
      const out = await authorizeInChromium(page, {
        server,
        clientId: client.clientId,
        redirectUri: app.url,
        user,
      });
      return exchangeCode(server, client, app.url, out);
    };
    // Two code flows with Lap Timer, one with Grid Planner, and a staff member's session with Grid Planner.
    const lap1 = await signIn(lapTimer);
    const lap2 = await signIn(lapTimer);
    const grid = await signIn(gridPlanner);
    const staff = await impersonate(user, gridPlanner.clientId);
    assert.equal((await live(user.userId)).length, 4);

    await page.goto(`${server.url}/oauth2/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    const group = (name: string) =>
      page.locator('.group', { has: page.getByRole('heading', { name, exact: true }) });
    const row = (id: string) =>
      page.locator('li', { has: page.locator(`input[name=session_id][value="${id}"]`) });
    fs.mkdirSync(path.join(OUTPUT, 'screenshots'), { recursive: true });
    await page.screenshot({
      path: path.join(OUTPUT, 'screenshots', 'account-sessions-desktop.png'),
      fullPage: true,
    });
    assert.deepEqual(await page.locator('.group h3').allTextContents(), ['Grid Planner', 'Lap Timer']);
    assert.equal(await group('Lap Timer').getByRole('listitem').count(), 2);
    assert.equal(await group('Grid Planner').getByRole('listitem').count(), 2);
    const lapRow = (await row(sessionOf(lap1)).textContent())!.replace(/\s+/g, ' ');
    assert.match(lapRow, /Chrome \d+ on Linux/, 'the device as bowser reads it');
    assert.match(lapRow, /Place unknown · 127\.0\.0\.1/, 'a loopback address has no place');
    assert.match(
      lapRow,
      /Signed in \d{4}-\d\d-\d\d \d\d:\d\d UTC · last active \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
    );
    const staffRow = (await row(staff.session_id).textContent())!.replace(/\s+/g, ' ');
    assert.match(staffRow, /Staff/);
    assert.ok(staffRow.includes(`Opened by staff: ${NOTE}`), staffRow);
    assert.doesNotMatch(lapRow, /Staff/);

    // Revoke one session: its refresh token is refused, its sibling's still works.
    await row(sessionOf(lap1))
      .getByRole('button', { name: /^Revoke Chrome \d+ on Linux with Lap Timer, signed in / })
      .click();
    await page.getByText('That session has ended.').waitFor();
    assert.equal(await row(sessionOf(lap1)).count(), 0);
    assert.equal(await group('Lap Timer').getByRole('listitem').count(), 1);
    const refused = await refreshAt(server, lapTimer, lap1.refresh_token);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
    const lap2Again = await refreshAt(server, lapTimer, lap2.refresh_token);
    assert.equal(lap2Again.status, 200, lap2Again.text);

    // Revoke all for Grid Planner: both of its sessions end, Lap Timer's does not.
    await page.getByRole('button', { name: 'Revoke all for Grid Planner' }).click();
    await page.getByText('2 sessions have ended.').waitFor();
    assert.equal(await group('Grid Planner').count(), 0);
    assert.deepEqual(await live(user.userId), [sessionOf(lap2)]);
    for (const token of [grid.refresh_token, staff.refresh_token]) {
      const r = await refreshAt(server, gridPlanner, token);
      assert.equal(r.body.error, 'invalid_grant');
    }
    const lap2Still = await refreshAt(server, lapTimer, lap2Again.body.refresh_token);
    assert.equal(lap2Still.status, 200, lap2Still.text);
  });
});

describe('the account page is linked from the consent page (Chromium)', { skip }, () => {
  let chromium: Chromium;
  let app: Awaited<ReturnType<typeof startApp>>;
  before(async () => {
    chromium = await launchChromium();
    app = await startApp();
    await start('account-link');
  });
  after(async () => {
    await chromium?.close();
    await app?.close();
    await stop();
  });

  test('“Manage your account” in the signed-in box opens the account page', async (t) => {
    const user = await newUser(server.ctx!.store);
    const client = await newClient(server.ctx!.store, { redirect_uris: [app.url], allow_http: true });
    const context = await chromium.newContext();
    context.setDefaultTimeout(15_000);
    t.after(() => context.close());
    const page = await context.newPage();
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: app.url,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    });
    await page.goto(`${server.url}/oauth2/authorize?${q}`);
    await fillPassword(page, user);
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await page.getByRole('link', { name: 'Manage your account' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.equal(pathOf(page), '/oauth2/account');
  });
});

describe('the account page ends only the signed-in user’s own sessions (HTTP)', () => {
  before(() => {
    // A place for the sessions' address, from a tiny MaxMind-format database built here.
    const file = path.join(tmpDir('paddock-geoip-'), 'test-city.mmdb');
    const chelmsford = {
      continent: { code: 'NA', names: { en: 'North America' } },
      country: { iso_code: 'US', names: { en: 'United States' } },
      subdivisions: [{ iso_code: 'MA', names: { en: 'Massachusetts' } }],
      city: { names: { en: 'Chelmsford' } },
    };
    fs.writeFileSync(file, buildMmdb({ '81.2.69.0/24': chelmsford }));
    return start('account-sessions-http', { PADDOCK_GEOIP_DB: file });
  });
  after(stop);

  test('another user’s session id, or an app without a session, is refused and changes nothing', async () => {
    const store = server.ctx!.store;
    const me = await newUser(store, 'Sam Marshal');
    const them = await newUser(store, 'Alex Rival');
    const mine = await newClient(store, { redirect_uris: ['https://app.example/cb'] });
    const theirs = await newClient(store, { redirect_uris: ['https://app.example/cb'] });
    const session = async (userId: string, clientId: string) => {
      const user = (await store.users.byId(userId))!;
      const client = (await store.getClient(clientId))!;
      const tokens = await startSession(
        server.ctx!,
        {
          user,
          client,
          scope: null,
          grantType: 'authorization_code',
          authTime: now(),
          ip: '81.2.69.142',
          userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0',
        },
        now(),
      );
      noteSecret(tokens.access_token, tokens.refresh_token);
      return sessionOf(tokens);
    };
    const myOwn = await session(me.userId, mine.clientId);
    const theirOwn = await session(them.userId, theirs.clientId);
    const theirsWithMine = await session(them.userId, mine.clientId);
    const before = { me: await live(me.userId), them: await live(them.userId) };

    // Signed in to the account page as `me`.
    const b = new Browser();
    const start = await b.open(`${server.url}/oauth2/account`);
    assert.equal(start.status, 303);
    const login = await b.open(start.location!);
    const form = {
      ...formOf(login, ['request_id', 'csrf_token']),
      email: me.username,
      password: me.password,
    };
    const signedIn = await b.open(`${server.url}/oauth2/account/login`, { form });
    assert.equal(signedIn.status, 303, signedIn.text);
    const account = await b.open(`${server.url}/oauth2/account`);
    assert.equal(account.status, 200);
    assert.ok(account.text.includes(myOwn), 'my session is listed');
    assert.ok(account.text.includes('Firefox 140 on Windows'), 'with its device');
    assert.ok(account.text.includes('Chelmsford, Massachusetts, United States · 81.2.69.142'), 'and place');
    assert.ok(!account.text.includes(theirOwn) && !account.text.includes(theirsWithMine), 'theirs are not');
    const csrf_token = hidden(account.text, 'csrf_token');
    noteSecret(csrf_token);
    const post = (action: string, fields: Record<string, string>) =>
      b.open(`${server.url}/oauth2/account/${action}`, { form: { csrf_token, ...fields } });

    for (const id of [theirOwn, theirsWithMine, 'not-a-session', '']) {
      const r = await post('sessions/revoke', { session_id: id });
      assert.equal(r.status, 404, `${id}: ${r.status}`);
      assert.match(r.text, /No such session/);
    }
    const r = await post('sessions/revoke-client', { client_id: theirs.clientId });
    assert.equal(r.status, 404);
    assert.match(r.text, /You have no session with that app/);
    assert.equal((await post('sessions/revoke-client', { client_id: 'no-such-app' })).status, 404);
    // Without the page's CSRF token, even my own session stays.
    const forged = await b.open(`${server.url}/oauth2/account/sessions/revoke`, {
      form: { session_id: myOwn },
    });
    assert.equal(forged.status, 403);
    assert.deepEqual({ me: await live(me.userId), them: await live(them.userId) }, before);

    // My own, with the app they share with me: mine ends, theirs with it stays.
    assert.equal((await post('sessions/revoke-client', { client_id: mine.clientId })).status, 200);
    assert.deepEqual(await live(me.userId), []);
    assert.deepEqual(await live(them.userId), before.them);
  });
});
