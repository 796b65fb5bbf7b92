// "Remember this browser" on the two-factor code page, over HTTP: the bypass skips the code (never the
// password) in that browser only; prompt=verify asks for both again and forgets the bypass; the book's
// /revoke/current with forget_browser=true removes the bypass of the browser the session came from; a
// password change forgets every bypass.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TOTP } from 'otpauth';
import { beginEnrolment, finishEnrolment } from '../src/accounts/two-factor.ts';
import { pkcePair } from './code-flow.ts';
import { newClient, newUser, type TestUser } from './flow.ts';
import { cliOk, noteSecret, post, startInProcess, TestClock, type TestServer } from './helpers.ts';
import { Browser, hidden, type Page } from './http-browser.ts';

const APP = 'https://app.example/cb';
/** The remembered period, a setting (30 days unless set). */
const REMEMBER_DAYS = 7;

function codeAt(secret: string, ms: number): string {
  return new TOTP({ secret, digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: ms });
}

describe('remembered browsers', () => {
  let server: TestServer;
  const clock = new TestClock();
  let client: { clientId: string; maskedSecret?: string };

  before(async () => {
    server = await startInProcess({
      name: 'remembered-browsers',
      clock,
      env: { PADDOCK_2FA_REMEMBER_DAYS: String(REMEMBER_DAYS) },
    });
    client = await newClient(server.ctx!.store, {
      redirect_uris: [APP],
      client_type: 'confidential',
      grant_types: ['authorization_code', 'refresh_token'],
    });
  });
  after(() => server.stop());

  async function enrolled(): Promise<TestUser & { secret: string }> {
    const user = await newUser(server.ctx!.store);
    const t = Math.floor(clock.now() / 1000);
    const begun = await beginEnrolment(server.ctx!, { user_id: user.userId, username: user.username }, t);
    noteSecret(begun!.secret);
    assert.ok(await finishEnrolment(server.ctx!, user.userId, codeAt(begun!.secret, clock.now()), t));
    return { ...user, secret: begun!.secret };
  }

  interface Run {
    code: string;
    verifier: string;
    askedPassword: boolean;
    askedCode: boolean;
  }

  /** Runs /authorize to the app, answering each page; a code step gets a fresh TOTP code. */
  async function run(
    b: Browser,
    user: TestUser & { secret: string },
    opts: { remember?: boolean; prompt?: string } = {},
  ): Promise<Run> {
    const { verifier, challenge } = pkcePair();
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: APP,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...(opts.prompt && { prompt: opts.prompt }),
    });
    let page = await b.open(`${server.url}/oauth2/authorize?${q}`);
    let askedPassword = false;
    let askedCode = false;
    const submit = async (form: Page, path: string, fields: Record<string, string>) =>
      b.open(`${server.url}/oauth2/${path}`, {
        form: {
          request_id: hidden(form.text, 'request_id'),
          csrf_token: hidden(form.text, 'csrf_token'),
          ...fields,
        },
      });
    for (let hop = 0; hop < 5 && page.location && !page.location.startsWith(APP); hop++) {
      const next = await b.open(page.location);
      const path = new URL(page.location).pathname;
      if (path.endsWith('/login')) {
        askedPassword = true;
        page = await submit(next, 'login', { email: user.username, password: user.password });
      } else if (path.endsWith('/login/code')) {
        askedCode = true;
        // Each code is usable once: the next step's code for every sign-in.
        clock.advance(30);
        page = await submit(next, 'login/code', {
          code: codeAt(user.secret, clock.now()),
          ...(opts.remember && { remember: '1' }),
        });
        assert.equal(page.status, 303, page.text);
      } else if (path.endsWith('/consent')) {
        page = await submit(next, 'consent', { decision: 'allow' });
      } else assert.fail(`unexpected page ${page.location}`);
    }
    assert.ok(page.location?.startsWith(APP), `${page.status} ${page.location} ${page.text}`);
    const code = new URL(page.location!).searchParams.get('code')!;
    noteSecret(code);
    return { code, verifier, askedPassword, askedCode };
  }

  /** The browser session ends (as after signing out or its expiry); other cookies stay. */
  function endBrowserSession(b: Browser) {
    for (const k of [...b.cookies.keys()]) if (k.endsWith('paddock_session')) b.cookies.delete(k);
  }

  const bypassCookie = (b: Browser) => [...b.cookies.keys()].find((k) => k.endsWith('paddock_2fa'));

  async function liveBypasses(userId: string) {
    return server.ctx!.store.twoFactor.listRememberedBrowsers(userId, Math.floor(clock.now() / 1000));
  }

  async function tokens(r: Run) {
    const res = await post(`${server.url}/oauth2/token`, {
      grant_type: 'authorization_code',
      client_id: client.clientId,
      client_secret: client.maskedSecret!,
      code: r.code,
      redirect_uri: APP,
      code_verifier: r.verifier,
    });
    assert.equal(res.status, 200, res.text);
    noteSecret(res.body.access_token, res.body.refresh_token);
    return res.body as { access_token: string; refresh_token: string };
  }

  test('a remembered browser skips the code but not the password; another browser gets the code', async () => {
    const user = await enrolled();
    const b = new Browser();
    const first = await run(b, user, { remember: true });
    assert.ok(first.askedPassword && first.askedCode);
    assert.ok(bypassCookie(b), 'the bypass cookie is set');
    const [row, ...more] = await liveBypasses(user.userId);
    assert.equal(more.length, 0);
    assert.equal(row!.user_agent, b.userAgent);
    assert.equal(row!.ip, '127.0.0.1');
    assert.ok(row!.expires_at - row!.created_at === REMEMBER_DAYS * 86400);

    endBrowserSession(b);
    const second = await run(b, user);
    assert.equal(second.askedPassword, true, 'the password is asked once the browser session ended');
    assert.equal(second.askedCode, false, 'the remembered browser skips the code');

    const fresh = await run(new Browser(), user);
    assert.ok(fresh.askedPassword && fresh.askedCode, 'a fresh browser is asked for the code');

    // Without the box ticked, nothing is remembered.
    const plain = new Browser();
    await run(plain, user);
    assert.equal(bypassCookie(plain), undefined);
  });

  test('a bypass is bound to its user', async () => {
    const alice = await enrolled();
    const bob = await enrolled();
    const b = new Browser();
    await run(b, alice, { remember: true });
    endBrowserSession(b);
    const asBob = await run(b, bob);
    assert.equal(asBob.askedCode, true);
  });

  test('prompt=verify asks for the password and the code again, and forgets the bypass', async () => {
    const user = await enrolled();
    const b = new Browser();
    await run(b, user, { remember: true });
    assert.equal((await liveBypasses(user.userId)).length, 1);
    // Still signed in: without prompt=verify nothing is asked.
    const quiet = await run(b, user);
    assert.ok(!quiet.askedPassword && !quiet.askedCode);
    const verify = await run(b, user, { prompt: 'verify' });
    assert.ok(verify.askedPassword, 'password asked');
    assert.ok(verify.askedCode, 'code asked despite the bypass');
    assert.equal((await liveBypasses(user.userId)).length, 0, 'the bypass is forgotten');
    assert.equal(bypassCookie(b), undefined, 'and its cookie cleared');
    endBrowserSession(b);
    assert.equal((await run(b, user)).askedCode, true);
  });

  test('/revoke/current with forget_browser=true removes the bypass of the browser the session came from', async () => {
    const user = await enrolled();
    const b = new Browser();
    const signedIn = await run(b, user, { remember: true });
    const t = await tokens(signedIn);
    // Another remembered browser of the same user is not touched.
    const other = new Browser();
    await run(other, user, { remember: true });
    assert.equal((await liveBypasses(user.userId)).length, 2);

    const r = await post(
      `${server.url}/oauth2/revoke/current`,
      { forget_browser: 'true' },
      { authorization: `Bearer ${t.access_token}` },
    );
    assert.ok(r.status === 200 || r.status === 204, `${r.status} ${r.text}`);
    assert.equal((await liveBypasses(user.userId)).length, 1);
    endBrowserSession(b);
    assert.equal((await run(b, user)).askedCode, true, 'the next sign-in asks for the code');
    endBrowserSession(other);
    assert.equal((await run(other, user)).askedCode, false, 'the other browser is still remembered');
  });

  test('/revoke/current without forget_browser keeps the bypass', async () => {
    const user = await enrolled();
    const b = new Browser();
    const t = await tokens(await run(b, user, { remember: true }));
    const r = await post(
      `${server.url}/oauth2/revoke/current`,
      {},
      { authorization: `Bearer ${t.access_token}` },
    );
    assert.ok(r.status === 200 || r.status === 204, `${r.status} ${r.text}`);
    assert.equal((await liveBypasses(user.userId)).length, 1);
  });

  test('a password change forgets every remembered browser', async () => {
    const user = await enrolled();
    const b = new Browser();
    await run(b, user, { remember: true });
    assert.equal((await liveBypasses(user.userId)).length, 1);
    const password = `${user.password}-new`;
    noteSecret(password);
    await cliOk(['users', 'set-password', user.username, '--password-stdin'], {
      env: { PADDOCK_DATA_DIR: server.dataDir },
      input: `${password}\n`,
    });
    assert.equal((await liveBypasses(user.userId)).length, 0);
    const again = await run(b, { ...user, password });
    assert.ok(again.askedPassword && again.askedCode);
  });

  test('a browser is remembered for the configured period, then asked for the code again', async () => {
    const user = await enrolled();
    const b = new Browser();
    await run(b, user, { remember: true });
    const [row] = await liveBypasses(user.userId);
    assert.equal(row!.expires_at - row!.created_at, REMEMBER_DAYS * 86400);
    endBrowserSession(b);
    clock.advance(REMEMBER_DAYS * 86400 - 3600);
    assert.equal((await run(b, user)).askedCode, false, 'still remembered an hour before the end');
    endBrowserSession(b);
    clock.advance(3600 + 60);
    assert.equal((await liveBypasses(user.userId)).length, 0);
    assert.ok((await run(b, user)).askedCode, 'asked again after the period');
  });
});
