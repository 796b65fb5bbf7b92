// What the pages and their cookies ask of the browser: form posts must come from the issuer's own origin
// (never Origin: null), the pages' referrer policy lets the browser say so, https issuers get HSTS on
// every response and __Host- cookies, http issuers keep plain cookie names.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, post, startInProcess, type TestServer } from './helpers.ts';
import { Browser } from './http-browser.ts';
import { authorizeUrl, formOf, pageClient, pageUser, signInThrough } from './page-flow.ts';

const HTTPS_ISSUER = 'https://paddock.example';

function cookieNamed(setCookies: string[], name: string): string | undefined {
  return setCookies.find((c) => c.startsWith(`${name}=`));
}

describe('an http issuer', () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({ name: 'page-security-http' });
  });
  after(() => server.stop());

  test('a sign-in post with Origin: null is refused with 403 and signs nobody in', async () => {
    const user = await pageUser(server.ctx!.store);
    const clientId = await pageClient(server.ctx!.store);
    const b = new Browser();
    const start = await b.open(authorizeUrl(server, clientId));
    const login = await b.open(start.location!);
    const form = {
      ...formOf(login, ['request_id', 'csrf_token']),
      email: user.username,
      password: user.password,
    };
    const refused = await b.open(`${server.url}/oauth2/login`, { form, origin: 'null' });
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.text, /invalid_request/);
    assert.equal(cookieNamed(refused.setCookies, 'paddock_session'), undefined);
    // The same form from the issuer's origin signs in.
    const ok = await b.open(`${server.url}/oauth2/login`, { form });
    assert.equal(ok.status, 303, ok.text);
  });

  test('a consent post with Origin: null is refused with 403 and issues no code', async () => {
    const user = await pageUser(server.ctx!.store);
    const clientId = await pageClient(server.ctx!.store);
    const b = new Browser();
    const signedIn = await signInThrough(server, b, user, clientId);
    const consent = await b.open(signedIn.location!);
    const form = { ...formOf(consent, ['request_id', 'csrf_token']), decision: 'allow' };
    const refused = await b.open(`${server.url}/oauth2/consent`, { form, origin: 'null' });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.location, undefined);
    const ok = await b.open(`${server.url}/oauth2/consent`, { form });
    assert.equal(ok.status, 303, ok.text);
    assert.match(ok.rawLocation ?? '', /^https:\/\/app\.example\/cb\?code=/);
  });

  test('pages send Referrer-Policy: same-origin (header and meta), so the browser sends their Origin', async () => {
    const clientId = await pageClient(server.ctx!.store);
    const b = new Browser();
    const start = await b.open(authorizeUrl(server, clientId));
    const login = await b.open(start.location!);
    assert.equal(login.headers.get('referrer-policy'), 'same-origin');
    assert.match(login.text, /<meta name="referrer" content="same-origin">/);
    const error = await b.open(`${server.url}/oauth2/login?request_id=nope`);
    assert.equal(error.status, 400);
    assert.equal(error.headers.get('referrer-policy'), 'same-origin');
  });

  test('no Strict-Transport-Security on http', async () => {
    const r = await get(`${server.url}/.well-known/jwks.json`);
    assert.equal(r.headers.get('strict-transport-security'), null);
  });

  test('cookies keep plain names, under the oauth2 path, without Secure', async () => {
    const user = await pageUser(server.ctx!.store);
    const clientId = await pageClient(server.ctx!.store);
    const b = new Browser();
    const signedIn = await signInThrough(server, b, user, clientId);
    const session = cookieNamed(signedIn.setCookies, 'paddock_session');
    assert.ok(session, signedIn.setCookies.join('\n'));
    assert.match(session, /;\s*Path=\/oauth2\/(;|$)/i);
    assert.doesNotMatch(session, /;\s*Secure/i);
    assert.ok(b.cookies.has('paddock_browser'));
  });
});

describe('an https issuer (the server itself listening on http behind a proxy)', () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({ name: 'page-security-https', env: { PADDOCK_ISSUER: HTTPS_ISSUER } });
  });
  after(() => server.stop());

  test('Strict-Transport-Security on every response: pages, JSON, errors, 404s', async () => {
    const clientId = await pageClient(server.ctx!.store);
    const responses = {
      discovery: await get(`${server.url}/.well-known/openid-configuration`),
      jwks: await get(`${server.url}/.well-known/jwks.json`),
      healthz: await get(`${server.url}/healthz`),
      'token error': await post(`${server.url}/oauth2/token`, { grant_type: 'nope' }),
      'profile without a token': await get(`${server.url}/oauth2/iracing/profile`),
      'not found': await get(`${server.url}/nowhere`),
      'error page': await get(`${server.url}/oauth2/login?request_id=nope`, { accept: 'text/html' }),
      'sign-in page': await (async () => {
        const b = new Browser();
        const start = await b.open(authorizeUrl(server, clientId));
        assert.equal(start.headers.get('strict-transport-security'), 'max-age=31536000', 'the redirect');
        return b.open(start.location!);
      })(),
    };
    for (const [what, r] of Object.entries(responses)) {
      assert.equal(r.headers.get('strict-transport-security'), 'max-age=31536000', what);
    }
  });

  test('cookies use the __Host- prefix: Secure, Path=/, no Domain; the flow reads them back', async () => {
    const user = await pageUser(server.ctx!.store);
    const clientId = await pageClient(server.ctx!.store);
    const b = new Browser();
    const signedIn = await signInThrough(server, b, user, clientId, HTTPS_ISSUER);
    const session = cookieNamed(signedIn.setCookies, '__Host-paddock_session');
    assert.ok(session, signedIn.setCookies.join('\n'));
    assert.match(session, /;\s*Path=\/(;|$)/i);
    assert.match(session, /;\s*Secure/i);
    assert.match(session, /;\s*HttpOnly/i);
    assert.doesNotMatch(session, /;\s*Domain=/i);
    assert.deepEqual([...b.cookies.keys()].sort(), [
      '__Host-paddock_browser',
      '__Host-paddock_known',
      '__Host-paddock_session',
    ]);
    // The server reads the prefixed cookies: the consent page knows the user and its form is accepted.
    const consent = await b.open(signedIn.location!);
    assert.equal(consent.status, 200, consent.text);
    assert.match(consent.text, /Signed in as/);
    const form = { ...formOf(consent, ['request_id', 'csrf_token']), decision: 'allow' };
    const allowed = await b.open(`${server.url}/oauth2/consent`, { form, origin: HTTPS_ISSUER });
    assert.equal(allowed.status, 303, allowed.text);
    assert.match(allowed.rawLocation ?? '', /^https:\/\/app\.example\/cb\?code=/);
  });
});
