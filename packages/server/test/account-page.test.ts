// Two-factor sign-in and the account page in real Chromium: enrolment on /oauth2/account with a code
// computed here from the key the page shows; sign-in with a code, a wrong code, a recovery code;
// "Remember this browser" in the same browser context and not in a fresh one; prompt=verify;
// /revoke/current with forget_browser; forgetting a browser and signing out everywhere on the account
// page; screenshots of the code page and the account page (desktop and mobile).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TOTP } from 'otpauth';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { beginEnrolment, finishEnrolment } from '../src/accounts/two-factor.ts';
import { launchChromium, SCREENSHOT_DEVICES, chromiumSkip as skip } from './chromium.ts';
import {
  authorizeInChromium,
  exchangeCode,
  fillPassword,
  type Outcome,
  pathOf,
  refreshAt,
  startApp,
} from './chromium-flow.ts';
import { pkcePair } from './code-flow.ts';
import { newClient, newUser, type TestUser } from './flow.ts';
import {
  createPgDatabase,
  noteSecret,
  OUTPUT,
  PG_URL,
  post,
  startInProcess,
  TestClock,
  type TestServer,
} from './helpers.ts';

const SCREENSHOTS = path.join(OUTPUT, 'screenshots');
/** The app the codes go back to: a local page on an ephemeral port. */
let APP = '';
let app: Awaited<ReturnType<typeof startApp>>;
let db: Awaited<ReturnType<typeof createPgDatabase>> | undefined;
const TIMEOUT = 15_000;

let browser: Browser;
let server: TestServer;
const clock = new TestClock();
let client: { clientId: string; maskedSecret?: string };

function codeAt(secret: string): string {
  // Each code is accepted once: every use takes the next 30-second step.
  clock.advance(30);
  return new TOTP({ secret, digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: clock.now() });
}

async function newContext(t: { after(fn: () => Promise<void>): void }, opts: BrowserContextOptions = {}) {
  const context = await browser.newContext(opts);
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  t.after(() => context.close());
  return context;
}

/** Signs in on the account page's own sign-in and enrols 2FA from the key it shows. */
async function enrolOnAccountPage(page: Page, user: TestUser): Promise<string> {
  await page.goto(`${server.url}/oauth2/account`);
  assert.equal(pathOf(page), '/oauth2/account/login');
  await fillPassword(page, user);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
  await page.screenshot({ path: path.join(SCREENSHOTS, 'account-enrol-desktop.png'), fullPage: true });
  const secret = (await page.locator('#totp-key').textContent())!.trim();
  noteSecret(secret);
  const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
  assert.ok(
    await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
    'the QR code shows',
  );
  assert.match((await qr.getAttribute('src'))!, /^data:image\/png;base64,/);
  await page.getByLabel('Authentication code').fill('000000' === codeAt(secret) ? '111111' : '000000');
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.getByText('That code is not correct').waitFor();
  await page.getByLabel('Authentication code').fill(codeAt(secret));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.getByText('Save these recovery codes').waitFor();
  return secret;
}

/** Runs /authorize in this page for the test's client, with the user's codes. */
function authorize(
  page: Page,
  user: TestUser & { secret: string },
  opts: { prompt?: string; remember?: boolean; beforeCode?: (p: Page) => Promise<void> } = {},
): Promise<Outcome> {
  const nextCode = () => codeAt(user.secret);
  return authorizeInChromium(page, {
    server,
    clientId: client.clientId,
    redirectUri: APP,
    user,
    nextCode,
    ...opts,
  });
}

/** The browser session ends (as when it expires); the browser keeps its other cookies. */
async function endBrowserSession(context: BrowserContext) {
  await context.clearCookies({ name: /paddock_session$/ });
}

async function liveBypasses(userId: string) {
  return server.ctx!.store.twoFactor.listRememberedBrowsers(userId, Math.floor(clock.now() / 1000));
}

describe('two-factor sign-in and the account page in Chromium', { skip }, () => {
  before(async () => {
    browser = await launchChromium();
    app = await startApp();
    APP = app.url;
    // SQLite, or PostgreSQL when PADDOCK_TEST_DATABASE_URL is set.
    db = PG_URL ? await createPgDatabase() : undefined;
    server = await startInProcess({
      name: 'account-page',
      clock,
      env: {
        PADDOCK_LOCKOUT_THRESHOLD: '5',
        PADDOCK_SIGN_IN_IP_LIMIT: '1000',
        ...(db && { DATABASE_URL: db.url }),
      },
    });
    client = await newClient(server.ctx!.store, {
      redirect_uris: [APP],
      allow_http: true,
      client_type: 'confidential',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await server?.stop();
    await db?.drop();
  });

  /** A user enrolled on the account page in a context of its own. */
  async function enrolledOnPage(t: { after(fn: () => Promise<void>): void }) {
    const user = await newUser(server.ctx!.store);
    const page = await (await newContext(t)).newPage();
    const secret = await enrolOnAccountPage(page, user);
    const recovery = (await page.locator('.codes code').allTextContents()).map((s) => s.trim());
    assert.equal(recovery.length, 10);
    noteSecret(...recovery);
    return { ...user, secret, recovery };
  }

  /** A user with 2FA on, enrolled through the project's own rules (the page's enrolment has its test). */
  async function enrolledUser(_t: unknown) {
    const user = await newUser(server.ctx!.store);
    const t0 = Math.floor(clock.now() / 1000);
    const begun = await beginEnrolment(server.ctx!, { user_id: user.userId, username: user.username }, t0);
    noteSecret(begun!.secret);
    const recovery = await finishEnrolment(server.ctx!, user.userId, codeAt(begun!.secret), t0);
    noteSecret(...recovery!);
    return { ...user, secret: begun!.secret, recovery: recovery! };
  }

  test('enrol on the account page, then sign in with a code; a wrong code is refused and counted', async (t) => {
    const user = await enrolledOnPage(t);
    const page = await (await newContext(t)).newPage();
    let wrongShown = false;
    const out = await authorize(page, user, {
      beforeCode: async (p) => {
        await p.getByLabel('Authentication code').fill('12345');
        await p.getByRole('button', { name: 'Verify' }).click();
        await p.getByText('That code is not correct').waitFor();
        const counted = await server.ctx!.store.db.all<{ hits: number }>(
          'SELECT hits FROM rate_counters WHERE counter_key LIKE ?',
          [`lockout:second_factor:${encodeURIComponent(user.username)}%`],
        );
        assert.deepEqual(
          counted.map((c) => Number(c.hits)),
          [1],
          'the wrong code counts on the lockout',
        );
        wrongShown = true;
      },
    });
    assert.ok(out.askedPassword && out.askedCode && wrongShown);
  });

  test('a recovery code works once', async (t) => {
    const user = await enrolledUser(t);
    const useRecovery = async (code: string) => {
      const page = await (await newContext(t)).newPage();
      const { challenge } = pkcePair();
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: APP,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      await page.goto(`${server.url}/oauth2/authorize?${q}`);
      await fillPassword(page, user);
      await page.getByRole('link', { name: 'Use a recovery code instead' }).click();
      await page.getByLabel('Recovery code').fill(code);
      await page.getByRole('button', { name: 'Verify' }).click();
      return page;
    };
    const first = await useRecovery(user.recovery[0]!);
    await first.waitForURL((u) => !u.pathname.startsWith('/oauth2/login'));
    assert.ok(['/oauth2/consent', '/cb'].includes(pathOf(first)), first.url());
    const second = await useRecovery(user.recovery[0]!);
    await second.getByText('That code is not correct').waitFor();
  });

  test('remember this browser: the same context skips the code, a fresh one does not', async (t) => {
    const user = await enrolledUser(t);
    const context = await newContext(t);
    const page = await context.newPage();
    const first = await authorize(page, user, { remember: true });
    assert.ok(first.askedCode);
    await endBrowserSession(context);
    const again = await authorize(page, user);
    assert.ok(again.askedPassword, 'the password is asked');
    assert.equal(again.askedCode, false, 'the code is not');
    const fresh = await authorize(await (await newContext(t)).newPage(), user);
    assert.ok(fresh.askedCode, 'a fresh browser is asked for the code');
  });

  test('prompt=verify asks for the password and the code again, and the bypass is gone', async (t) => {
    const user = await enrolledUser(t);
    const context = await newContext(t);
    const page = await context.newPage();
    await authorize(page, user, { remember: true });
    assert.equal((await liveBypasses(user.userId)).length, 1);
    const verify = await authorize(page, user, { prompt: 'verify' });
    assert.ok(verify.askedPassword && verify.askedCode);
    assert.equal((await liveBypasses(user.userId)).length, 0);
    await endBrowserSession(context);
    assert.ok((await authorize(page, user)).askedCode);
  });

  test('/revoke/current with forget_browser=true makes the next sign-in ask for the code', async (t) => {
    const user = await enrolledUser(t);
    const context = await newContext(t);
    const page = await context.newPage();
    const signedIn = await authorize(page, user, { remember: true });
    const tokens = await exchangeCode(server, client, APP, signedIn);
    const r = await post(
      `${server.url}/oauth2/revoke/current`,
      { forget_browser: 'true' },
      { authorization: `Bearer ${tokens.access_token}` },
    );
    assert.ok(r.status < 300, `${r.status} ${r.text}`);
    await endBrowserSession(context);
    assert.ok((await authorize(page, user)).askedCode);
  });

  test('the account page forgets a browser and signs out everywhere', async (t) => {
    const user = await enrolledUser(t);
    const context = await newContext(t);
    const page = await context.newPage();
    await authorize(page, user, { remember: true });
    await page.goto(`${server.url}/oauth2/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    // The browser as bowser reads its User-Agent: name, major version, system.
    const remembered = page.locator('section', {
      has: page.getByRole('heading', { name: 'Remembered browsers' }),
    });
    assert.match((await remembered.locator('.rows').textContent())!, /Chrome \d+ on Linux/);
    await page.getByRole('button', { name: 'Forget' }).click();
    await page.getByText('That browser will be asked for a code again').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Forget' }).count(), 0);
    assert.equal((await liveBypasses(user.userId)).length, 0);
    await endBrowserSession(context);
    assert.ok((await authorize(page, user)).askedCode);

    // Sign out everywhere: browser sessions, client sessions and bypasses.
    const other = await authorize(await (await newContext(t)).newPage(), user, { remember: true });
    const tokens = await exchangeCode(server, client, APP, other);
    await page.goto(`${server.url}/oauth2/account`);
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByText('You are signed out').waitFor();
    assert.equal((await liveBypasses(user.userId)).length, 0);
    const refreshed = await refreshAt(server, client, tokens.refresh_token);
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    await page.goto(`${server.url}/oauth2/account`);
    assert.equal(pathOf(page), '/oauth2/account/login');
  });

  test('turning 2FA off on the account page asks for a code or the password, and forgets remembered browsers', async (t) => {
    for (const proof of ['code', 'password'] as const) {
      const user = await enrolledUser(t);
      const page = await (await newContext(t)).newPage();
      await page.goto(`${server.url}/oauth2/account`);
      await fillPassword(page, user);
      await page.getByLabel('Remember this browser for 30 days').check();
      await page.getByLabel('Authentication code').fill(codeAt(user.secret));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      assert.equal((await liveBypasses(user.userId)).length, 1, 'the account sign-in remembers the browser');
      await page.getByLabel('Current code or password').fill('wrong-password');
      await page.getByRole('button', { name: 'Turn off two-factor sign-in' }).click();
      await page.getByText('That code or password is not correct').waitFor();
      const right = proof === 'code' ? codeAt(user.secret) : user.password;
      await page.getByLabel('Current code or password').fill(right);
      await page.getByRole('button', { name: 'Turn off two-factor sign-in' }).click();
      await page.getByText('Two-factor sign-in is off.').waitFor();
      assert.equal((await liveBypasses(user.userId)).length, 0, `${proof}: no browser is remembered`);
      assert.equal(
        await server.ctx!.store.twoFactor.getTotp(user.userId).then((r) => r?.enabled_at ?? null),
        null,
      );
    }
  });

  test('screenshots of the code page and the account page (desktop, mobile); no console errors', async (t) => {
    for (const [name, options, pngWidth] of SCREENSHOT_DEVICES) {
      const user = await enrolledUser(t);
      const context = await newContext(t, options);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      const files: string[] = [];
      const signedIn = await authorize(page, user, {
        remember: true,
        beforeCode: async (p) => {
          const file = path.join(SCREENSHOTS, `two-factor-code-${name}.png`);
          await p.screenshot({ path: file, fullPage: true });
          files.push(file);
        },
      });
      // A session with the app, so the page's list of sessions has a row.
      await exchangeCode(server, client, APP, signedIn);
      await page.goto(`${server.url}/oauth2/account`);
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      const file = path.join(SCREENSHOTS, `account-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      files.push(file);
      assert.deepEqual(problems, [], `${name}: the pages logged problems`);
      for (const f of files) {
        const png = fs.readFileSync(f);
        assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
        assert.equal(png.readUInt32BE(16), pngWidth, `${f} is ${pngWidth} pixels wide`);
      }
    }
  });
});
