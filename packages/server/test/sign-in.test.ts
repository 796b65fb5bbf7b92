// The sign-in page under attack: per-IP and global limits checked before any password work, a bounded
// number of attempts per sign-in request, and a lockout that someone without the password cannot turn
// against the real user's own browser; the page and the password_limited grant count separately.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  hasMark,
  knownBrowserKey,
  knownBrowserMark,
  parseMarks,
  withMark,
} from '../src/accounts/known-browsers.ts';
import { mask } from '../src/oauth/masking.ts';
import { headless, login as passwordLogin } from './fixtures.ts';
import { authorizeUrl, isConsentUrl, isLoginUrl, newClient, openSignIn, type TestUser } from './flow.ts';
import { startInProcess, TestClock, type TestServer } from './helpers.ts';
import { Browser, hidden, type Page } from './http-browser.ts';

const CB = 'https://app.example/cb';

/** A server with these settings, one confidential client for the page; stopped after the describe. */
function serverWith(env: Record<string, string>) {
  const clock = new TestClock();
  const s = { server: undefined as unknown as TestServer, clientId: '', clock };
  before(async () => {
    s.server = await startInProcess({ clock, env, name: 'sign-in' });
    s.clientId = (await newClient(s.server.ctx!.store, { redirect_uris: [CB] })).clientId;
  });
  after(() => s.server.stop());
  return s;
}

/** Starts a flow in this browser and opens its sign-in page. */
async function signInPage(
  s: { server: TestServer; clientId: string },
  b: Browser,
  user: TestUser | { username: string; password: string },
) {
  const start = await b.open(authorizeUrl(s.server, { client_id: s.clientId, redirect_uri: CB }));
  assert.ok(isLoginUrl(s.server, start.location), String(start.rawLocation));
  return openSignIn(b, start.location!, user);
}

const post = (server: TestServer, b: Browser, form: Record<string, string>) =>
  b.open(`${server.url}/oauth2/login`, { form });

function assertSignInPage(page: Page, status: number, message: RegExp) {
  assert.equal(page.status, status, page.text);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.text, message);
  assert.ok(hidden(page.text, 'request_id'), 'the sign-in form again');
}

function signedIn(server: TestServer, page: Page) {
  assert.equal(page.status, 303, page.text);
  assert.ok(isConsentUrl(server, page.location), String(page.rawLocation));
}

describe('sign-in page: per-IP limit, before any password is checked', () => {
  const s = serverWith({
    PADDOCK_SIGN_IN_IP_LIMIT: '4',
    PADDOCK_SIGN_IN_WINDOW: '300',
    PADDOCK_LOCKOUT_THRESHOLD: '100',
  });

  test('past the limit: 429, Retry-After and a clear message on the sign-in page, even with the right password', async () => {
    const h = await headless(s.server.ctx!.store);
    const b = new Browser();
    const { form } = await signInPage(s, b, h);
    for (let i = 1; i <= 4; i++) {
      assertSignInPage(await post(s.server, b, { ...form, password: `wrong-${i}` }), 401, /not correct/);
    }
    s.clock.advance(100);
    const limited = await post(s.server, b, form);
    assertSignInPage(limited, 429, /Too many sign-in attempts from your network/);
    assert.equal(limited.headers.get('retry-after'), '200');
    assert.ok(!b.cookies.has('paddock_session'), 'nobody was signed in');

    // The refused posts were not password checks: the user is not locked out once the window ends.
    s.clock.advance(201);
    signedIn(s.server, await post(s.server, b, form));
  });
});

describe('sign-in page: global limit', () => {
  const s = serverWith({
    PADDOCK_SIGN_IN_IP_LIMIT: '100',
    PADDOCK_SIGN_IN_GLOBAL_LIMIT: '3',
    PADDOCK_SIGN_IN_WINDOW: '60',
    PADDOCK_LOCKOUT_THRESHOLD: '100',
  });

  test('past the limit for everyone: 429 with Retry-After, the sign-in page and a clear message', async () => {
    const h = await headless(s.server.ctx!.store);
    for (let i = 1; i <= 3; i++) {
      const b = new Browser();
      const { form } = await signInPage(s, b, h);
      assertSignInPage(await post(s.server, b, { ...form, password: `wrong-${i}` }), 401, /not correct/);
    }
    const b = new Browser();
    const { form } = await signInPage(s, b, h);
    const limited = await post(s.server, b, form);
    assertSignInPage(limited, 429, /busy/);
    assert.equal(limited.headers.get('retry-after'), '60');
    s.clock.advance(61);
    signedIn(s.server, await post(s.server, b, form));
  });
});

describe('sign-in page: a sign-in request admits 10 attempts', () => {
  const s = serverWith({ PADDOCK_SIGN_IN_IP_LIMIT: '1000', PADDOCK_LOCKOUT_THRESHOLD: '1000' });

  test('the 11th post of one request_id is refused ("start again") and the request is over', async () => {
    const h = await headless(s.server.ctx!.store);
    const b = new Browser();
    const { form } = await signInPage(s, b, h);
    for (let i = 1; i <= 10; i++) {
      assertSignInPage(await post(s.server, b, { ...form, password: `wrong-${i}` }), 401, /not correct/);
    }
    const spent = await post(s.server, b, form);
    assert.equal(spent.status, 400, spent.text);
    assert.match(spent.text, /invalid_request/);
    assert.match(spent.text, /start again/);
    assert.ok(!b.cookies.has('paddock_session'));
    const page = await b.open(
      `${s.server.url}/oauth2/login?request_id=${encodeURIComponent(form.request_id)}`,
    );
    assert.equal(page.status, 400, 'the request is gone');

    // A new request from the app starts a new count.
    const again = await signInPage(s, b, h);
    signedIn(s.server, await post(s.server, b, again.form));
  });
});

describe('sign-in page: lockout cannot lock the real user out of a browser they have signed in with', () => {
  const s = serverWith({
    PADDOCK_SIGN_IN_IP_LIMIT: '1000',
    PADDOCK_LOCKOUT_THRESHOLD: '3',
    PADDOCK_LOCKOUT_DURATION: '600',
  });

  /** Signs in once in this browser, then forgets the session (keeping the browser's own cookies). */
  async function knownBrowser(h: { username: string; password: string }) {
    const b = new Browser();
    const { form } = await signInPage(s, b, h);
    signedIn(s.server, await post(s.server, b, form));
    b.cookies.delete('paddock_session');
    return b;
  }

  async function failures(b: Browser, h: { username: string; password: string }, n: number) {
    const { form } = await signInPage(s, b, h);
    for (let i = 1; i <= n; i++) {
      assertSignInPage(await post(s.server, b, { ...form, password: `guess-${i}` }), 401, /not correct/);
    }
    return form;
  }

  test("an attacker's wrong passwords lock unknown browsers, not the user's own", async () => {
    const h = await headless(s.server.ctx!.store);
    const own = await knownBrowser(h);

    const attacker = new Browser();
    const attackerForm = await failures(attacker, h, 3);
    const locked = await post(s.server, attacker, attackerForm);
    assertSignInPage(locked, 429, /Too many failed sign-ins/);
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    // Another browser that never signed in as this user is locked out too.
    const stranger = new Browser();
    const { form: strangerForm } = await signInPage(s, stranger, h);
    assertSignInPage(await post(s.server, stranger, strangerForm), 429, /Too many failed sign-ins/);

    // The user's own browser signs in with the right password.
    const { form } = await signInPage(s, own, h);
    signedIn(s.server, await post(s.server, own, form));
  });

  test("a known browser's own failures lock that browser (the cookie is no free pass)", async () => {
    const h = await headless(s.server.ctx!.store);
    const own = await knownBrowser(h);
    const form = await failures(own, h, 3);
    assertSignInPage(await post(s.server, own, form), 429, /Too many failed sign-ins/);
  });

  test('a known browser of one user is unknown for another', async () => {
    const victim = await headless(s.server.ctx!.store);
    const other = await headless(s.server.ctx!.store);
    const b = await knownBrowser(other);
    await failures(new Browser(), victim, 3);
    const { form } = await signInPage(s, b, victim);
    assertSignInPage(await post(s.server, b, form), 429, /Too many failed sign-ins/);
  });

  test('the lockout ends after its duration', async () => {
    const h = await headless(s.server.ctx!.store);
    const b = new Browser();
    const form = await failures(b, h, 3);
    assertSignInPage(await post(s.server, b, form), 429, /Too many failed sign-ins/);
    s.clock.advance(601);
    signedIn(s.server, await post(s.server, b, form));
  });
});

describe('the sign-in page and password_limited count failures separately', () => {
  const s = serverWith({
    PADDOCK_SIGN_IN_IP_LIMIT: '1000',
    PADDOCK_LOCKOUT_THRESHOLD: '5',
    PADDOCK_PASSWORD_LIMITED_LIMIT: '1000',
    PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000',
  });

  test("5 wrong passwords on the page lock the page, not the user's headless client", async () => {
    const h = await headless(s.server.ctx!.store);
    const b = new Browser();
    const { form } = await signInPage(s, b, h);
    for (let i = 1; i <= 5; i++) {
      assertSignInPage(await post(s.server, b, { ...form, password: `wrong-${i}` }), 401, /not correct/);
    }
    assertSignInPage(await post(s.server, b, form), 429, /Too many failed sign-ins/);
    const api = await passwordLogin(s.server, h);
    assert.equal(api.status, 200, api.text);
  });

  test('5 wrong passwords through password_limited lock the grant, not the sign-in page', async () => {
    const h = await headless(s.server.ctx!.store);
    for (let i = 1; i <= 5; i++) {
      const r = await passwordLogin(s.server, h, { password: mask(`wrong-${i}`, h.username) });
      assert.equal(r.status, 401, `attempt ${i}`);
    }
    const locked = await passwordLogin(s.server, h);
    assert.equal(locked.status, 400, locked.text);
    assert.match(locked.body.error_description, /locked/);
    const b = new Browser();
    const { form } = await signInPage(s, b, h);
    signedIn(s.server, await post(s.server, b, form));
  });
});

describe('remembered browsers: the marks a browser keeps after signing in', () => {
  const key = knownBrowserKey(Buffer.alloc(32, 7));
  const browser = 'b'.repeat(43);

  test('a mark is bound to the browser, the user (as normalised) and the key', () => {
    const mark = knownBrowserMark(key, browser, 'Ada@Example.com ');
    assert.match(mark, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(knownBrowserMark(key, browser, 'ada@example.com'), mark);
    assert.notEqual(knownBrowserMark(key, 'c'.repeat(43), 'ada@example.com'), mark);
    assert.notEqual(knownBrowserMark(key, browser, 'bob@example.com'), mark);
    assert.notEqual(knownBrowserMark(knownBrowserKey(Buffer.alloc(32, 8)), browser, 'ada@example.com'), mark);
  });

  test('the cookie keeps the five latest marks; anything malformed is ignored', () => {
    const marks = ['ada', 'bob', 'cy', 'dee', 'eve', 'fay'].map((u) => knownBrowserMark(key, browser, u));
    let kept: string[] = [];
    for (const m of marks) kept = withMark(kept, m);
    assert.deepEqual(kept, marks.slice(1).reverse());
    assert.deepEqual(withMark(kept, marks[3]!)[0], marks[3]);
    assert.equal(withMark(kept, marks[3]!).length, 5);
    assert.deepEqual(parseMarks(`${kept.join('.')}.not-a-mark.${'x'.repeat(40)}`), kept);
    assert.deepEqual(parseMarks(undefined), []);
    assert.equal(hasMark(kept, marks[5]!), true);
    assert.equal(hasMark(kept, marks[0]!), false);
  });
});
