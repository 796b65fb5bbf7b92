// Two-factor sign-in with TOTP (RFC 6238): the rules as pure functions, then the sign-in page over HTTP
// (the code page after the password, wrong codes refused and counted, a code accepted once, recovery
// codes spent once), password_limited with the password alone, the sealed secret in the database file,
// and `paddock users 2fa`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TOTP } from 'otpauth';
import {
  beginEnrolment,
  finishEnrolment,
  matchingStep,
  newRecoveryCodes,
  openSecret,
  recoveryCodeHash,
  sealSecret,
} from '../src/accounts/two-factor.ts';
import { headless, login } from './fixtures.ts';
import { authorizeUrl, isLoginUrl, newClient, newUser, type TestUser } from './flow.ts';
import { cli, noteSecret, startInProcess, TestClock, type TestServer } from './helpers.ts';
import { Browser, hidden, type Page } from './http-browser.ts';

const APP = 'https://app.example/cb';

function codeAt(secret: string, ms: number): string {
  return new TOTP({ secret, digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: ms });
}

describe('TOTP rules', () => {
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  const t = 1_700_000_000_000;

  test('a code matches its own step and one step either side, no further', () => {
    const step = Math.floor(t / 30_000);
    assert.equal(matchingStep(secret, codeAt(secret, t), t), step);
    assert.equal(matchingStep(secret, codeAt(secret, t - 30_000), t), step - 1);
    assert.equal(matchingStep(secret, codeAt(secret, t + 30_000), t), step + 1);
    assert.equal(matchingStep(secret, codeAt(secret, t - 90_000), t), undefined);
    assert.equal(matchingStep(secret, codeAt(secret, t + 90_000), t), undefined);
    const spaced = codeAt(secret, t).replace(/^(\d{3})/, '$1 ');
    assert.equal(matchingStep(secret, spaced, t), step);
    assert.equal(matchingStep(secret, 'abcdef', t), undefined);
    assert.equal(matchingStep(secret, '', t), undefined);
  });

  test('ten distinct recovery codes; the hash ignores case, spaces and dashes', () => {
    const codes = newRecoveryCodes();
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const c of codes) assert.match(c, /^[a-z0-9]{5}-[a-z0-9]{5}$/);
    const c = codes[0]!;
    assert.equal(recoveryCodeHash(c), recoveryCodeHash(` ${c.toUpperCase().replace('-', ' ')} `));
    assert.notEqual(recoveryCodeHash(c), recoveryCodeHash(codes[1]!));
  });

  test('a sealed secret opens only for the user it was sealed for', () => {
    const key = Buffer.alloc(32, 7);
    const sealed = sealSecret(key, secret, 'user-a');
    assert.ok(!sealed.includes(secret));
    assert.equal(openSecret(key, sealed, 'user-a'), secret);
    assert.throws(() => openSecret(key, sealed, 'user-b'));
  });
});

describe('sign-in with two-factor', () => {
  let server: TestServer;
  const clock = new TestClock();
  let clientId: string;

  before(async () => {
    server = await startInProcess({
      name: 'two-factor',
      clock,
      env: { PADDOCK_LOCKOUT_THRESHOLD: '3', PADDOCK_SIGN_IN_IP_LIMIT: '1000' },
    });
    ({ clientId } = await newClient(server.ctx!.store, {
      redirect_uris: [APP],
      client_type: 'confidential',
      grant_types: ['authorization_code', 'refresh_token'],
    }));
  });
  after(() => server.stop());

  /** A user with 2FA on, enrolled through the project's own rules; returns the secret and codes. */
  async function enrolled(): Promise<TestUser & { secret: string; recovery: string[] }> {
    const user = await newUser(server.ctx!.store);
    const begun = await beginEnrolment(
      server.ctx!,
      { user_id: user.userId, username: user.username },
      Math.floor(clock.now() / 1000),
    );
    assert.ok(begun);
    noteSecret(begun.secret);
    const recovery = await finishEnrolment(
      server.ctx!,
      user.userId,
      codeAt(begun.secret, clock.now()),
      Math.floor(clock.now() / 1000),
    );
    assert.ok(recovery);
    noteSecret(...recovery);
    // The enrolment's code is spent: the next code is one step later.
    clock.advance(30);
    return { ...user, secret: begun.secret, recovery };
  }

  /** Signs in with the password; returns the code page the browser lands on. */
  async function passwordStep(b: Browser, user: TestUser, extra: Record<string, string> = {}) {
    const start = await b.open(authorizeUrl(server, { client_id: clientId, redirect_uri: APP, ...extra }));
    assert.ok(isLoginUrl(server, start.location), start.location);
    const login = await b.open(start.location!);
    const form = {
      request_id: hidden(login.text, 'request_id'),
      csrf_token: hidden(login.text, 'csrf_token'),
      email: user.username,
      password: user.password,
    };
    const after = await b.open(`${server.url}/oauth2/login`, { form });
    return { after, requestId: form.request_id };
  }

  async function submitCode(b: Browser, codePage: Page, code: string, extra: Record<string, string> = {}) {
    return b.open(`${server.url}/oauth2/login/code`, {
      form: {
        request_id: hidden(codePage.text, 'request_id'),
        csrf_token: hidden(codePage.text, 'csrf_token'),
        code,
        ...extra,
      },
    });
  }

  async function toCodePage(b: Browser, user: TestUser) {
    const { after } = await passwordStep(b, user);
    assert.equal(after.status, 303, after.text);
    assert.match(after.location!, /\/oauth2\/login\/code\?request_id=/);
    const page = await b.open(after.location!);
    assert.equal(page.status, 200);
    return page;
  }

  const signedIn = (b: Browser) => [...b.cookies.keys()].some((k) => k.endsWith('paddock_session'));

  test('after the password, a code page; the browser is signed in only after the right code', async () => {
    const user = await enrolled();
    const b = new Browser();
    const page = await toCodePage(b, user);
    assert.match(page.text, /Authentication code/);
    assert.match(page.text, />Verify</);
    assert.match(page.text, /Use a recovery code instead/);
    assert.match(page.text, /Remember this browser for 30 days/);
    assert.equal(signedIn(b), false, 'no browser session before the code');
    const done = await submitCode(b, page, codeAt(user.secret, clock.now()));
    assert.equal(done.status, 303, done.text);
    assert.ok(done.location?.includes('/oauth2/consent') || done.location?.startsWith(APP), done.location);
    assert.equal(signedIn(b), true);
  });

  test('the code page belongs to the browser that gave the password', async () => {
    const user = await enrolled();
    const b = new Browser();
    const page = await toCodePage(b, user);
    const other = new Browser();
    const stolen = await other.open(
      `${server.url}/oauth2/login/code?request_id=${hidden(page.text, 'request_id')}`,
    );
    assert.equal(stolen.status, 303);
    assert.ok(isLoginUrl(server, stolen.location));
  });

  test('a code is accepted once: a replay within its window is refused', async () => {
    const user = await enrolled();
    const code = codeAt(user.secret, clock.now());
    const first = new Browser();
    assert.equal((await submitCode(first, await toCodePage(first, user), code)).status, 303);
    const second = new Browser();
    const replay = await submitCode(second, await toCodePage(second, user), code);
    assert.equal(replay.status, 401, replay.text);
    assert.match(replay.text, /That code is not correct/);
    assert.equal(signedIn(second), false);
    // Ten seconds on, still within the window: still refused. The next step's code works.
    clock.advance(10);
    const again = await submitCode(second, await toCodePage(second, user), code);
    assert.equal(again.status, 401);
    clock.advance(30);
    const next = await submitCode(second, await toCodePage(second, user), codeAt(user.secret, clock.now()));
    assert.equal(next.status, 303, next.text);
  });

  test('wrong codes are refused and counted toward the lockout; a right password does not clear it', async () => {
    const user = await enrolled();
    const b = new Browser();
    for (let i = 0; i < 3; i++) {
      // Each round gives the right password again: the code count goes on regardless.
      const page = await toCodePage(b, user);
      const wrong = await submitCode(
        b,
        page,
        '000000' === codeAt(user.secret, clock.now()) ? '111111' : '000000',
      );
      assert.equal(wrong.status, 401, wrong.text);
    }
    const page = await toCodePage(b, user);
    const locked = await submitCode(b, page, codeAt(user.secret, clock.now()));
    assert.equal(locked.status, 429, locked.text);
    assert.match(locked.text, /Too many wrong codes/);
    assert.equal(signedIn(b), false);
    clock.advance(901);
  });

  test('a recovery code works once', async () => {
    const user = await enrolled();
    const b = new Browser();
    const page = await toCodePage(b, user);
    const recoveryPage = await b.open(
      `${server.url}/oauth2/login/code?request_id=${hidden(page.text, 'request_id')}&recovery=1`,
    );
    assert.match(recoveryPage.text, /Recovery code/);
    const ok = await submitCode(b, recoveryPage, user.recovery[0]!.toUpperCase(), { recovery: '1' });
    assert.equal(ok.status, 303, ok.text);
    const c = new Browser();
    const again = await submitCode(c, await toCodePage(c, user), user.recovery[0]!, { recovery: '1' });
    assert.equal(again.status, 401, again.text);
    const other = await submitCode(c, await toCodePage(c, user), user.recovery[1]!, { recovery: '1' });
    assert.equal(other.status, 303, other.text);
  });

  test('a user without 2FA signs in with the password alone', async () => {
    const user = await newUser(server.ctx!.store);
    const b = new Browser();
    const { after } = await passwordStep(b, user);
    assert.equal(after.status, 303);
    assert.doesNotMatch(after.location!, /login\/code/);
    assert.equal(signedIn(b), true);
  });

  test('password_limited for a user with 2FA works with the password alone', async () => {
    const h = await headless(server.ctx!.store);
    const begun = await beginEnrolment(
      server.ctx!,
      { user_id: h.userId, username: h.username },
      Math.floor(clock.now() / 1000),
    );
    noteSecret(begun!.secret);
    assert.ok(await finishEnrolment(server.ctx!, h.userId, codeAt(begun!.secret, clock.now()), 0));
    const r = await login(server, h);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.access_token);
  });

  test('the TOTP secret is not readable in the database file', async () => {
    const user = await enrolled();
    const dbFiles = fs
      .readdirSync(server.dataDir)
      .filter((f) => /\.(db|sqlite)(-wal)?$/.test(f) || f.includes('.db'));
    assert.ok(dbFiles.length > 0, `database files in ${fs.readdirSync(server.dataDir)}`);
    const row = await server.ctx!.store.twoFactor.getTotp(user.userId);
    assert.ok(row?.secret);
    let sawSealed = false;
    for (const f of dbFiles) {
      const bytes = fs.readFileSync(path.join(server.dataDir, f));
      assert.equal(bytes.includes(user.secret), false, `the secret in ${f}`);
      assert.equal(bytes.includes(user.secret.toLowerCase()), false);
      if (bytes.includes(row.secret)) sawSealed = true;
    }
    assert.ok(sawSealed, 'the sealed secret is what the file holds');
  });

  test('paddock users 2fa status and disable; disabling forgets remembered browsers', async () => {
    const user = await enrolled();
    const b = new Browser();
    const page = await toCodePage(b, user);
    assert.equal(
      (await submitCode(b, page, codeAt(user.secret, clock.now()), { remember: '1' })).status,
      303,
    );
    const env = { PADDOCK_DATA_DIR: server.dataDir };
    const status = await cli(['users', '2fa', user.username, 'status', '--json'], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.json().two_factor, 'enabled');
    assert.equal(status.json().recovery_codes_left, 10);
    assert.equal(status.json().remembered_browsers, 1);
    const off = await cli(['users', '2fa', user.username, 'disable', '--json'], { env });
    assert.equal(off.code, 0, off.stderr);
    assert.equal(off.json().two_factor, 'disabled');
    assert.equal(off.json().remembered_browsers, 0);
    const again = await cli(['users', '2fa', user.username, 'disable'], { env });
    assert.notEqual(again.code, 0);
    const bad = await cli(['users', '2fa', user.username, 'enable'], { env });
    assert.notEqual(bad.code, 0);
    const audit = await server.ctx!.store.auditLog.list({ objectId: user.userId });
    assert.ok(audit.some((a) => a.action === 'user.two_factor_disabled'));
    // Signed out now: the password alone signs in.
    const fresh = new Browser();
    const { after } = await passwordStep(fresh, user);
    assert.doesNotMatch(after.location!, /login\/code/);
  });
});
