// The Device Authorization Grant (RFC 8628) against a running Paddock: a device (the SDK's deviceLogin)
// polls /token while real Chromium enters the user code, signs in and allows; slow_down and
// authorization_pending on the wire; Deny; codes that expire (a clock the test moves); user codes that
// are single use and whose guessing is counted and stopped; the tokens at /iracing/profile; discovery.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { OAuthClient, OAuthError } from '@paddock/client';
import type { Browser as Chromium } from 'playwright-core';
import { createUser } from '../src/accounts/users.ts';
import { type ClientInput, createClient } from '../src/clients/registry.ts';
import type { Clock } from '../src/clock.ts';
import {
  formatUserCode,
  generateUserCode,
  normaliseUserCode,
  USER_CODE_ALPHABET,
} from '../src/oauth/device.ts';
import { mask } from '../src/oauth/masking.ts';
import { chromiumSkip, launchChromium } from './chromium.ts';
import {
  createPgDatabase,
  decodeJwt,
  get,
  noteSecret,
  pgSkip,
  post,
  startInProcess,
  type TestServer,
} from './helpers.ts';
import { Browser, hidden, type Page } from './http-browser.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

/** Real time plus whatever the test has skipped: the SDK's timers keep working while codes can expire. */
class MovableClock implements Clock {
  skipped = 0;
  now() {
    return Date.now() + this.skipped;
  }
  advance(seconds: number) {
    this.skipped += seconds * 1000;
  }
}

let seq = 0;
const nowS = () => Math.floor(Date.now() / 1000);

interface User {
  username: string;
  password: string;
  name: string;
  custId: number;
}

async function newUser(server: TestServer): Promise<User> {
  const n = ++seq;
  const username = `rig-${process.pid}-${n}@example.com`;
  const password = `pw-${randomBytes(9).toString('base64url')}-Apex`;
  const name = `Robin Rig ${n}`;
  const custId = 910_000 + n;
  await createUser(
    server.ctx!.store,
    { username, display_name: name, password, cust_id: custId, group_ids: [1], subscription_active: true },
    nowS(),
  );
  noteSecret(password, mask(password, username));
  return { username, password, name, custId };
}

async function newClient(server: TestServer, input: Partial<ClientInput> = {}) {
  const clientId = `rig-${process.pid}-${++seq}`;
  const { client_secret } = await createClient(
    server.ctx!.store,
    {
      client_id: clientId,
      client_name: 'Rig Dashboard',
      developer_name: 'Pit Wall Tools',
      client_type: 'public',
      grant_types: [DEVICE_GRANT, 'refresh_token'],
      ...input,
    },
    nowS(),
  );
  const masked = client_secret ? mask(client_secret, clientId) : undefined;
  noteSecret(client_secret, masked);
  return { clientId, masked };
}

async function deviceAuthorization(server: TestServer, form: Record<string, string>) {
  const r = await post(`${server.url}/oauth2/device_authorization`, form);
  if (r.status === 200) noteSecret(r.body.device_code);
  return r;
}

async function poll(server: TestServer, clientId: string, deviceCode: string, secret?: string) {
  const r = await post(`${server.url}/oauth2/token`, {
    grant_type: DEVICE_GRANT,
    device_code: deviceCode,
    client_id: clientId,
    ...(secret && { client_secret: secret }),
  });
  if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
  return r;
}

const pollAs = poll;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The device page over HTTP: enter the code; returns the answer (a 303 to consent when accepted). */
async function enterCode(server: TestServer, b: Browser, userCode: string): Promise<Page> {
  const entry = await b.open(`${server.url}/oauth2/device`);
  assert.equal(entry.status, 200, entry.text);
  const csrf = hidden(entry.text, 'csrf_token');
  noteSecret(csrf);
  return b.open(`${server.url}/oauth2/device`, { form: { csrf_token: csrf, user_code: userCode } });
}

/** From the device page's redirect through sign-in (if needed) to the consent page. */
async function toConsent(server: TestServer, b: Browser, entered: Page, user: User): Promise<Page> {
  assert.equal(entered.status, 303, entered.text);
  let page = await b.open(entered.location!);
  if (page.status === 303 && page.location!.includes('/oauth2/login')) {
    const login = await b.open(page.location!);
    assert.equal(login.status, 200, login.text);
    const signedIn = await b.open(`${server.url}/oauth2/login`, {
      form: {
        request_id: hidden(login.text, 'request_id'),
        csrf_token: hidden(login.text, 'csrf_token'),
        email: user.username,
        password: user.password,
      },
    });
    assert.equal(signedIn.status, 303, signedIn.text);
    page = await b.open(signedIn.location!);
  }
  assert.equal(page.status, 200, page.text);
  assert.match(page.text, /name="decision" value="allow"/);
  return page;
}

function decide(server: TestServer, b: Browser, consent: Page, decision: 'allow' | 'deny') {
  return b.open(`${server.url}/oauth2/consent`, {
    form: {
      request_id: hidden(consent.text, 'request_id'),
      csrf_token: hidden(consent.text, 'csrf_token'),
      decision,
    },
  });
}

/** Approves a device code over HTTP, then polls it from many requests at once: one gets the tokens. */
async function racingApproval(server: TestServer): Promise<void> {
  const user = await newUser(server);
  const { clientId } = await newClient(server);
  const d = (await deviceAuthorization(server, { client_id: clientId, scope: 'iracing.profile' })).body;
  const b = new Browser();
  const consent = await toConsent(server, b, await enterCode(server, b, d.user_code), user);
  assert.match(consent.text, /Rig Dashboard/);
  const done = await decide(server, b, consent, 'allow');
  assert.equal(done.status, 200, done.text);
  assert.match(done.text, /Return to your device/);

  const racing = await Promise.all(Array.from({ length: 8 }, () => poll(server, clientId, d.device_code)));
  const won = racing.filter((r) => r.status === 200);
  assert.equal(won.length, 1, racing.map((r) => r.text).join('\n'));
  for (const r of racing.filter((r) => r.status !== 200)) assert.equal(r.body.error, 'invalid_grant', r.text);
  const again = await poll(server, clientId, d.device_code);
  assert.equal(again.body.error, 'invalid_grant');

  // The user code was used: entering it again is refused.
  const reused = await enterCode(server, b, d.user_code);
  assert.equal(reused.status, 400);
  assert.match(reused.text, /That code is not valid/);
  // Another client cannot poll with the code either.
  const other = await newClient(server);
  assert.equal((await poll(server, other.clientId, d.device_code)).body.error, 'invalid_grant');
}

// ---- pure rules

describe('user codes', () => {
  test('8 letters without vowels or look-alikes, shown as XXXX-XXXX; typing is forgiven case and dashes', () => {
    assert.equal(USER_CODE_ALPHABET, 'BCDFGHJKLMNPQRSTVWXZ');
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const code = generateUserCode();
      assert.match(code, USER_CODE);
      seen.add(code);
    }
    assert.ok(seen.size > 190, 'codes are random');
    assert.equal(normaliseUserCode('wdjb-mjht'), 'WDJBMJHT');
    assert.equal(normaliseUserCode(' WDJB MJHT '), 'WDJBMJHT');
    assert.equal(normaliseUserCode('wdjbmjht'), 'WDJBMJHT');
    assert.equal(formatUserCode('WDJBMJHT'), 'WDJB-MJHT');
    for (const bad of ['WDJB-MJH', 'WDJB-MJHTX', 'WDJB-MJH0', 'AEIO-UWDJ', '']) {
      assert.equal(normaliseUserCode(bad), undefined, bad);
    }
  });
});

// ---- the flow against a running server

describe('device flow', () => {
  let server: TestServer;
  const clock = new MovableClock();

  before(async () => {
    // A 1 s interval keeps the polling test short; the default (5 s) is checked below on the config.
    server = await startInProcess({ clock, env: { PADDOCK_DEVICE_POLL_INTERVAL: '1' }, name: 'device' });
  });
  after(async () => {
    await server?.stop();
  });

  test('discovery lists the device authorization endpoint and the grant type', async () => {
    const r = await get(`${server.url}/.well-known/oauth-authorization-server`);
    assert.equal(r.status, 200);
    assert.equal(r.body.device_authorization_endpoint, `${server.issuer}/oauth2/device_authorization`);
    assert.ok(r.body.grant_types_supported.includes(DEVICE_GRANT));
  });

  test('/device_authorization: the codes, the addresses, the lifetime and the interval', async () => {
    const { clientId } = await newClient(server);
    const r = await deviceAuthorization(server, { client_id: clientId, scope: 'iracing.profile' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.body.user_code, USER_CODE);
    assert.ok(r.body.device_code.length >= 43, 'a high-entropy device code');
    assert.equal(r.body.verification_uri, `${server.issuer}/oauth2/device`);
    assert.equal(
      r.body.verification_uri_complete,
      `${server.issuer}/oauth2/device?user_code=${r.body.user_code}`,
    );
    assert.equal(r.body.expires_in, 600);
    assert.equal(r.body.interval, 1);
    // Neither code is stored as it was handed out.
    const raw = JSON.stringify(
      await server.ctx!.store.db.all('SELECT * FROM device_codes WHERE client_id = ?', [clientId]),
    );
    assert.ok(!raw.includes(r.body.device_code));
    assert.ok(!raw.includes(r.body.user_code) && !raw.includes(normaliseUserCode(r.body.user_code)!));
  });

  test('/device_authorization refuses clients not registered for the grant, bad scopes and bad secrets', async () => {
    const codeOnly = await newClient(server, {
      grant_types: ['authorization_code'],
      redirect_uris: ['https://a.example/cb'],
    });
    const r1 = await deviceAuthorization(server, { client_id: codeOnly.clientId });
    assert.equal(r1.status, 401, r1.text);
    assert.equal(r1.body.error, 'unauthorized_client');

    const { clientId } = await newClient(server);
    const r2 = await deviceAuthorization(server, { client_id: clientId, scope: 'iracing.everything' });
    assert.equal(r2.body.error, 'invalid_scope');
    const r3 = await deviceAuthorization(server, { client_id: 'nobody' });
    assert.equal(r3.body.error, 'invalid_client');

    const confidential = await newClient(server, { client_type: 'confidential' });
    const r4 = await deviceAuthorization(server, { client_id: confidential.clientId });
    assert.equal(r4.body.error, 'invalid_client');
    const r5 = await deviceAuthorization(server, {
      client_id: confidential.clientId,
      client_secret: confidential.masked!,
    });
    assert.equal(r5.status, 200, r5.text);
    // Its polls need the secret as well.
    const r6 = await poll(server, confidential.clientId, r5.body.device_code);
    assert.equal(r6.body.error, 'invalid_client');
  });

  test('end to end: deviceLogin polls (authorization_pending, slow_down) while Chromium enters the code, signs in and allows', {
    skip: chromiumSkip,
  }, async () => {
    const user = await newUser(server);
    const { clientId } = await newClient(server);
    const answers: { at: number; error: string }[] = [];
    let provoked: () => void;
    const slowDownSeen = new Promise<void>((r) => {
      provoked = r;
    });
    // The device's network, recorded; on its first poll it also sends two more at once (a device
    // that polls too fast), and hands the SDK the slow_down, which the SDK must honour.
    const recording: typeof fetch = async (input, init) => {
      let res = await fetch(input, init);
      if (!String(input).endsWith('/oauth2/token')) return res;
      const note = async (r: Response) => {
        const body = await r.clone().json();
        answers.push({ at: Date.now(), error: r.ok ? 'tokens' : body.error });
        if (r.ok) noteSecret(body.access_token, body.refresh_token);
        return body;
      };
      await note(res);
      if (answers.length === 1) {
        for (let i = 0; i < 3 && answers.at(-1)!.error !== 'slow_down'; i++) {
          res = await fetch(input, init);
          await note(res);
        }
        provoked();
      }
      return res;
    };
    const sdk = new OAuthClient({ issuer: server.issuer, clientId, fetch: recording });

    const chromium: Chromium = await launchChromium();
    try {
      let person: Promise<string> | undefined;
      const tokens = await sdk.deviceLogin({
        scope: 'iracing.profile',
        onCode: (code) => {
          assert.match(code.userCode, USER_CODE);
          assert.equal(code.expiresIn, 600);
          // The person at a computer: waits until the device has been told to slow down, then types
          // the code in lower case without the dash, signs in and allows.
          person = slowDownSeen.then(async () => {
            const page = await (await chromium.newContext()).newPage();
            await page.goto(code.verificationUri);
            await page.getByLabel('Code').fill(code.userCode.replace('-', '').toLowerCase());
            await page.getByRole('button', { name: 'Continue' }).click();
            await page.getByLabel('Email').fill(user.username);
            await page.getByLabel('Password').fill(user.password);
            await page.getByRole('button', { name: 'Sign in' }).click();
            await page.getByRole('button', { name: 'Allow' }).waitFor();
            const consent = await page.locator('main').innerText();
            assert.match(consent, /Rig Dashboard/);
            assert.match(consent, /Never allow a code that someone else gave you/);
            await page.getByRole('button', { name: 'Allow' }).click();
            await page.getByRole('heading', { name: 'Return to your device' }).waitFor();
            return page.locator('main').innerText();
          });
        },
      });
      assert.match(await person!, /Rig Dashboard is now signed in/);

      const errors = answers.map((a) => a.error);
      assert.equal(errors[0], 'authorization_pending', errors.join());
      assert.ok(errors.includes('slow_down'), errors.join());
      assert.equal(errors.at(-1), 'tokens', errors.join());
      // After the slow_down the SDK waited the raised interval (1 + 5 s) and was never slowed again.
      const slowed = errors.indexOf('slow_down');
      assert.ok(answers[slowed + 1]!.at - answers[slowed]!.at >= 6000, 'the SDK honoured slow_down');
      assert.equal(errors.lastIndexOf('slow_down'), slowed, errors.join());

      // Tokens as from the authorization code grant: a JWT for this user and client, a refresh token.
      assert.equal(tokens.token_type, 'Bearer');
      assert.ok(tokens.refresh_token, 'a refresh token for a client with the refresh grant');
      assert.equal(tokens.scope, 'iracing.profile');
      const { payload } = decodeJwt(tokens.access_token);
      assert.equal(payload.client_id, clientId);
      assert.equal(payload.iracing_cust_id, user.custId);
      assert.ok(payload.aud.includes(clientId));
      assert.equal(payload.iss, server.issuer);
      assert.equal(payload.scope, 'iracing.profile');
      const profile = await get(`${server.url}/oauth2/iracing/profile`, {
        authorization: `Bearer ${tokens.access_token}`,
      });
      assert.equal(profile.status, 200, profile.text);
      assert.deepEqual(profile.body, { iracing_name: user.name, iracing_cust_id: user.custId });
      // The refresh token works like any other.
      const refreshed = await sdk.refresh(tokens.refresh_token!);
      noteSecret(refreshed.access_token, refreshed.refresh_token);
      assert.ok(refreshed.access_token);
    } finally {
      await chromium.close();
    }
  });

  test('an approved code gives tokens once: of racing polls one wins, and the user code is spent', async () => {
    await racingApproval(server);
  });

  test('consent is asked every time for a device, and Deny reaches the device as access_denied', async () => {
    const user = await newUser(server);
    // A confidential client: consent to it is otherwise remembered (an http redirect URI is not).
    const { clientId, masked } = await newClient(server, { client_type: 'confidential' });
    const poll = (s: TestServer, id: string, code: string) => pollAs(s, id, code, masked);
    const b = new Browser();
    const first = (await deviceAuthorization(server, { client_id: clientId, client_secret: masked! })).body;
    await decide(
      server,
      b,
      await toConsent(server, b, await enterCode(server, b, first.user_code), user),
      'allow',
    );
    assert.equal((await poll(server, clientId, first.device_code)).status, 200);

    // Consent given before, the user signs in again (another browser): the consent page all the same.
    const second = (await deviceAuthorization(server, { client_id: clientId, client_secret: masked! })).body;
    const b2 = new Browser();
    const entered = await enterCode(server, b2, second.user_code.toLowerCase());
    const consent = await toConsent(server, b2, entered, user);
    assert.match(consent.text, /Rig Dashboard/);
    const pending = await poll(server, clientId, second.device_code);
    assert.equal(pending.status, 400);
    assert.equal(pending.body.error, 'authorization_pending');
    assert.equal(pending.body.error_uri, `${server.issuer}/oauth2/book/error_authorization_pending.html`);
    const denied = await decide(server, b2, consent, 'deny');
    assert.equal(denied.status, 200, denied.text);
    assert.match(denied.text, /You denied/);
    await sleep(1100);
    const r = await poll(server, clientId, second.device_code);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error, 'access_denied');
  });

  test('polling faster than the interval: slow_down, and the interval grows by 5 s', async () => {
    const { clientId } = await newClient(server);
    const d = (await deviceAuthorization(server, { client_id: clientId })).body;
    const answers: string[] = [];
    for (let i = 0; i < 4 && !answers.includes('slow_down'); i++) {
      answers.push((await poll(server, clientId, d.device_code)).body.error);
    }
    assert.equal(answers[0], 'authorization_pending');
    assert.ok(answers.includes('slow_down'), answers.join());
    // 1 s is no longer enough: the interval is 6 s now.
    await sleep(1100);
    const r = await poll(server, clientId, d.device_code);
    assert.equal(r.body.error, 'slow_down');
    assert.match(r.body.error_description, /at least 11 seconds/);
  });

  test('codes expire: expired_token at /token, and the user code no longer works on the page', async () => {
    const { clientId } = await newClient(server);
    const d = (await deviceAuthorization(server, { client_id: clientId })).body;
    const page = new Browser();
    const entered = await enterCode(server, page, d.user_code);
    assert.equal(entered.status, 303);
    const d2 = (await deviceAuthorization(server, { client_id: clientId })).body;
    clock.advance(601);
    const r = await poll(server, clientId, d.device_code);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error, 'expired_token');
    const late = await enterCode(server, page, d2.user_code);
    assert.equal(late.status, 400);
    // The sign-in started before the expiry cannot finish either.
    const consent = await page.open(entered.location!);
    assert.notEqual(consent.status, 200);
  });

  test('the device page: CSRF-protected, strict CSP, no script; the complete URI only pre-fills the code', async () => {
    const b = new Browser();
    const entry = await b.open(`${server.url}/oauth2/device?user_code=wdjbmjht`);
    assert.equal(entry.status, 200);
    assert.match(entry.headers.get('content-security-policy')!, /default-src 'none'/);
    assert.doesNotMatch(entry.text, /<script/i);
    assert.match(entry.text, /value="WDJB-MJHT"/);
    const forged = await b.open(`${server.url}/oauth2/device`, {
      form: { csrf_token: 'x', user_code: 'WDJB-MJHT' },
    });
    assert.equal(forged.status, 403);
  });
});

describe('guessing user codes', () => {
  let server: TestServer;
  const clock = new MovableClock();

  before(async () => {
    server = await startInProcess({ clock, env: { PADDOCK_SIGN_IN_IP_LIMIT: '3' }, name: 'device-guess' });
  });
  after(async () => {
    await server?.stop();
  });

  test('a wrong user code is refused and counted; past the limit even the right one waits for the window', async () => {
    const user = await newUser(server);
    const { clientId } = await newClient(server);
    const d = (await deviceAuthorization(server, { client_id: clientId })).body;
    const b = new Browser();
    const wrong = d.user_code === 'BBBB-BBBB' ? 'CCCC-CCCC' : 'BBBB-BBBB';
    for (const guess of [wrong, 'nonsense', wrong]) {
      const r = await enterCode(server, b, guess);
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, /That code is not valid/);
    }
    const blocked = await enterCode(server, b, d.user_code);
    assert.equal(blocked.status, 429, blocked.text);
    assert.match(blocked.text, /Too many wrong codes/);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    const metrics = await get(`${server.url}/metrics`);
    assert.match(metrics.text, /bucket="device_user_code"} [1-9]/);

    // The window passes; the right code goes through, and the device hears authorization_pending.
    clock.advance(301);
    const entered = await enterCode(server, b, d.user_code);
    await toConsent(server, b, entered, user);
    const r = await poll(server, clientId, d.device_code);
    assert.equal(r.body.error, 'authorization_pending');
  });
});

describe('device flow on PostgreSQL', { skip: pgSkip }, () => {
  let server: TestServer;
  let db: Awaited<ReturnType<typeof createPgDatabase>>;
  before(async () => {
    db = await createPgDatabase();
    server = await startInProcess({ env: { DATABASE_URL: db.url }, name: 'device-pg' });
  });
  after(async () => {
    await server?.stop();
    await db?.drop();
  });

  test('racing polls of an approved code: exactly one gets tokens', async () => {
    await racingApproval(server);
  });
});

describe('the SDK', () => {
  test('deviceLogin is abortable, and passes on the server expired_token as an OAuthError', async () => {
    const controller = new AbortController();
    let polled = 0;
    const fake: typeof fetch = async (input) => {
      if (String(input).endsWith('/device_authorization')) {
        return Response.json({
          device_code: 'd',
          user_code: 'WDJB-MJHT',
          verification_uri: 'https://as.example/oauth2/device',
          expires_in: 600,
          interval: 0.01,
        });
      }
      polled++;
      return Response.json(
        { error: polled < 3 ? 'authorization_pending' : 'expired_token' },
        { status: 400 },
      );
    };
    const sdk = new OAuthClient({ issuer: 'https://as.example', clientId: 'c', fetch: fake });
    const err = await sdk.deviceLogin({ onCode: () => {} }).catch((e: unknown) => e);
    assert.ok(err instanceof OAuthError);
    assert.equal(err.error, 'expired_token');
    assert.equal(polled, 3);

    const aborted = sdk.deviceLogin({
      onCode: () => controller.abort(new Error('stopped')),
      signal: controller.signal,
    });
    await assert.rejects(aborted, /stopped/);
  });
});
