// Pure protocol rules, tested without a server.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { ERROR_TABLE, OAuthError } from '../src/oauth/errors.ts';
import { parseForm } from '../src/oauth/form.ts';
import { looksMasked, mask } from '../src/oauth/masking.ts';
import { redirectUriProblem } from '../src/oauth/redirect-uri.ts';
import { mayRetryRotation } from '../src/oauth/refresh-reuse.ts';
import { parseScope } from '../src/oauth/scopes.ts';
import type { SigningKeyRecord } from '../src/store/types.ts';
import { keyStatuses, RETIRE_GRACE } from '../src/tokens/keys.ts';

describe('masking (the book\'s "Client Secret and User Password Masking")', () => {
  test("the book's example", () => {
    assert.equal(
      mask('Anagram-tactics-FOOTING-OPACITY-SHONE-keenly', ' John.West@iracing.com '),
      'KIhAi2ynNPWvJsebdluGaBaPTRaUACqTPDCfyUuv46Y=',
    );
  });
  test('the id is trimmed and lower-cased, the secret is not', () => {
    assert.equal(mask('s', 'ID'), mask('s', ' id '));
    assert.notEqual(mask('S', 'id'), mask('s', 'id'));
  });
  test('standard base64 with padding, 44 characters', () => {
    const m = mask('x', 'y');
    assert.ok(looksMasked(m));
    assert.equal(m.length, 44);
    assert.ok(!looksMasked('not-masked'));
  });
});

describe('scopes', () => {
  test('known scopes, space separated', () => {
    assert.deepEqual(parseScope('iracing.auth iracing.profile'), ['iracing.auth', 'iracing.profile']);
    assert.deepEqual(parseScope(undefined), []);
    assert.deepEqual(parseScope(''), []);
  });
  for (const [raw, why] of [
    ['iracing.unknown', /unknown/],
    ['iracing.auth iracing.auth', /duplicated/],
    ['iracing.auth  iracing.profile', /malformed/],
    [' iracing.auth', /malformed/],
    ['iracing."auth', /disallowed/],
    ['toString', /unknown/],
    ['__proto__', /unknown/],
  ] as const) {
    test(`"${raw}" is invalid_scope`, () => {
      assert.throws(
        () => parseScope(raw),
        (e: unknown) => e instanceof OAuthError && e.error === 'invalid_scope' && why.test(e.message),
      );
    });
  }
});

describe('form bodies', () => {
  test('a repeated parameter is invalid_request naming it', () => {
    assert.throws(
      () => parseForm('grant_type=a&client_id=x&grant_type=b'),
      (e: unknown) =>
        e instanceof OAuthError && e.error === 'invalid_request' && /grant_type is repeated/.test(e.message),
    );
  });
  test('percent-encoding is decoded', () => {
    assert.equal(parseForm('client_secret=KIhA%2B%2F%3D').client_secret, 'KIhA+/=');
  });
});

describe("the book's error table", () => {
  test('status and status_reason of every code', () => {
    assert.deepEqual(
      Object.fromEntries(Object.entries(ERROR_TABLE).map(([k, v]) => [k, `${v.status} ${v.reason}`])),
      {
        access_denied: '401 Unauthorized',
        authorization_pending: '400 Bad Request',
        expired_token: '400 Bad Request',
        insufficient_scope: '403 Forbidden',
        invalid_client: '403 Unauthorized',
        invalid_grant: '400 Bad Request',
        invalid_request: '400 Bad Request',
        invalid_scope: '400 Bad Request',
        invalid_token: '401 Unauthorized',
        server_error: '500 Internal Server Error',
        slow_down: '400 Bad Request',
        temporarily_unavailable: '503 Service Unavailable',
        unauthorized_client: '401 Unauthorized',
        unsupported_grant_type: '400 Bad Request',
        unsupported_response_type: '400 Bad Request',
      },
    );
  });
  test('the rate-limit override keeps the code and changes the status', () => {
    const e = new OAuthError('unauthorized_client', 'x', { status: 400 });
    assert.equal(e.status, 400);
    assert.equal(e.statusReason, 'Bad Request');
  });
});

describe('redirect URI registration rules', () => {
  const ok = [
    'https://app.yourdomain.example/',
    'https://app.yourdomain.example/callback?flow=one',
    'https://app.yourdomain.example:8443/callback',
    'example.yourdomain.app://callback/',
    'my_iracing_app://login/',
    'http://127.0.0.1:0/callback',
    'http://[::1]:0/callback',
  ];
  for (const uri of ok) test(`accepts ${uri}`, () => assert.equal(redirectUriProblem(uri), null));
  const bad: [string, RegExp][] = [
    ['https://app.yourdomain.example', /three slashes/],
    ['https://app.yourdomain.example/callback#fragment', /fragment/],
    ['http://app.yourdomain.example/callback', /--allow-http/],
    ['http://localhost:0/callback', /localhost/],
    ['example.yourdomain.app://callback', /three slashes/],
    ['https://user:pw@app.example/cb', /user information/],
    ['javascript://x/%0aalert(1)', /javascript/],
  ];
  for (const [uri, why] of bad)
    test(`refuses ${uri}`, () => assert.match(redirectUriProblem(uri) ?? '', why));
  test('http:// with --allow-http', () => {
    assert.equal(redirectUriProblem('http://app.example/cb', { allowHttp: true }), null);
  });
});

describe('configuration', () => {
  test('defaults', () => {
    const c = loadConfig({});
    assert.equal(c.issuer, 'http://127.0.0.1:8080');
    assert.equal(c.port, 8080);
  });
  test('the issuer follows --port unless given', () => {
    assert.equal(loadConfig({}, { port: '9000' }).issuer, 'http://127.0.0.1:9000');
    assert.equal(
      loadConfig({ PADDOCK_ISSUER: 'https://auth.example/' }, { port: '9000' }).issuer,
      'https://auth.example',
    );
  });
  for (const [env, name] of [
    [{ PADDOCK_PORT: 'abc' }, /PADDOCK_PORT.*"abc"/],
    [{ PADDOCK_ISSUER: 'ftp://x' }, /PADDOCK_ISSUER/],
    [{ PADDOCK_ISSUER: 'https://x/?q=1' }, /PADDOCK_ISSUER/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
    [{ PADDOCK_MASTER_KEY: 'short' }, /PADDOCK_MASTER_KEY/],
    [{ PADDOCK_LOCKOUT_THRESHOLD: '0' }, /PADDOCK_LOCKOUT_THRESHOLD/],
    [{ PADDOCK_REFRESH_REUSE_GRACE: '301' }, /PADDOCK_REFRESH_REUSE_GRACE.*301/],
    [{ PADDOCK_REFRESH_REUSE_GRACE: '-1' }, /PADDOCK_REFRESH_REUSE_GRACE/],
  ] as const) {
    test(`one-line error naming the bad value: ${Object.keys(env)[0]}`, () => {
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError && name.test(e.message) && !e.message.includes('\n'),
      );
    });
  }
});

describe('refresh token reuse grace', () => {
  test('off by default: strict single use', () => {
    assert.equal(loadConfig({}).refreshReuseGrace, 0);
    assert.equal(mayRetryRotation(100, 100, 0), false);
  });
  test('a retry is allowed until the grace period has passed since the rotation, not after', () => {
    assert.equal(loadConfig({ PADDOCK_REFRESH_REUSE_GRACE: '30' }).refreshReuseGrace, 30);
    assert.equal(mayRetryRotation(100, 100, 30), true);
    assert.equal(mayRetryRotation(100, 130, 30), true);
    assert.equal(mayRetryRotation(100, 131, 30), false);
  });
});

describe('signing key life cycle', () => {
  const key = (kid: string, activates_at: number, retired_at: number | null = null): SigningKeyRecord => ({
    kid,
    alg: 'EdDSA',
    public_jwk: '{}',
    private_key: '',
    created_at: activates_at,
    activates_at,
    retired_at,
  });
  test('a new key is pending until it activates, then the old one is only published until its tokens expire', () => {
    const keys = [key('a', 1000), key('b', 2000)];
    const at = (t: number) => Object.fromEntries(keyStatuses(keys, t, 600).map((s) => [s.kid, s.state]));
    assert.deepEqual(at(1500), { a: 'active', b: 'pending' });
    assert.deepEqual(at(2000), { a: 'published', b: 'active' });
    const a = keyStatuses(keys, 2000, 600).find((s) => s.kid === 'a')!;
    assert.equal(a.retires_at, 2000 + 600 + RETIRE_GRACE);
  });
});
