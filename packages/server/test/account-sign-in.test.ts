// The account page's own sign-in holds to the rules of /authorize's: a sign-in request admits ten
// attempts (MAX_ATTEMPTS_PER_REQUEST) and is then spent; a browser cannot mint a fresh one for free by
// reloading the page, since new requests come at the same per-IP rate as /authorize's pending requests
// (PADDOCK_AUTHORIZE_IP_LIMIT); and a request expires, as /authorize's do.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_ATTEMPTS_PER_REQUEST } from '../src/accounts/sign-in.ts';
import { newUser, type TestUser } from './flow.ts';
import { createPgDatabase, PG_URL, startInProcess, TestClock, type TestServer } from './helpers.ts';
import { Browser, hidden } from './http-browser.ts';
import { formOf } from './page-flow.ts';

const REQUESTS_PER_IP = 2;
const clock = new TestClock();
let server: TestServer;
let db: Awaited<ReturnType<typeof createPgDatabase>> | undefined;
let user: TestUser;

describe('the account page’s sign-in requests', () => {
  before(async () => {
    db = PG_URL ? await createPgDatabase() : undefined;
    server = await startInProcess({
      name: 'account-sign-in',
      clock,
      env: {
        // Only the per-request cap and the rate of new requests are under test here.
        PADDOCK_AUTHORIZE_IP_LIMIT: String(REQUESTS_PER_IP),
        PADDOCK_SIGN_IN_IP_LIMIT: '1000',
        PADDOCK_LOCKOUT_THRESHOLD: '1000',
        ...(db && { DATABASE_URL: db.url }),
      },
    });
    user = await newUser(server.ctx!.store);
  });
  after(async () => {
    await server?.stop();
    await db?.drop();
  });

  const loginUrl = () => `${server.url}/oauth2/account/login`;
  const wrong = (b: Browser, form: Record<string, string>) =>
    b.open(loginUrl(), { form: { ...form, email: user.username, password: 'not-the-password' } });

  test('reloading the page does not buy more than ten attempts per request at the per-IP rate', async () => {
    // Someone guessing uses every sign-in form the server hands out: the page's, and the one shown when a
    // request is spent.
    const b = new Browser();
    let form: Record<string, string> | undefined;
    let requests = 0;
    let checked = 0;
    for (let step = 0; step < 100; step++) {
      if (!form) {
        const login = await b.open(loginUrl());
        if (login.status === 429) {
          assert.match(login.text, /Too many sign-in attempts/);
          assert.ok(Number(login.headers.get('retry-after')) > 0);
          break;
        }
        assert.equal(login.status, 200, login.text);
        requests++;
        form = formOf(login, ['request_id', 'csrf_token']);
      }
      const r = await wrong(b, form);
      if (r.status === 401) {
        checked++;
        continue;
      }
      assert.equal(r.status, 429, r.text);
      const next = hidden(r.text, 'request_id');
      if (next && next !== form.request_id) {
        requests++;
        form = formOf(r, ['request_id', 'csrf_token']);
      } else form = undefined;
    }
    assert.equal(requests, REQUESTS_PER_IP, 'new sign-in requests come at the per-IP rate');
    assert.equal(checked, REQUESTS_PER_IP * MAX_ATTEMPTS_PER_REQUEST, 'ten attempts each');
    // Once the window of the per-IP rate has passed, a new request again.
    clock.advance(server.ctx!.config.signIn.window + 1);
    assert.equal((await b.open(loginUrl())).status, 200);
  });

  test('a sign-in request expires', async () => {
    const b = new Browser();
    clock.advance(server.ctx!.config.signIn.window + 1);
    const form = formOf(await b.open(loginUrl()), ['request_id', 'csrf_token']);
    assert.equal((await wrong(b, form)).status, 401);
    clock.advance(16 * 60);
    const late = await wrong(b, form);
    assert.equal(late.status, 403, late.text);
    assert.match(late.text, /expired/);
  });
});
