// OAuthClient never follows a redirect: every call carries a credential (a masked client secret, a
// masked password, a code and its verifier, a refresh token, or a bearer access token), and a redirect
// would hand it to whatever address the answer names. Two real HTTP servers on 127.0.0.1 (two origins):
// the "issuer" answers every request with a redirect to the other, which records what reaches it.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { OAuthClient, OAuthError } from '../src/index.ts';

interface Seen {
  method: string;
  url: string;
  body: string;
  authorization: string | undefined;
}

/** An HTTP server on 127.0.0.1 that records every request (with its body) and answers with `answer`. */
async function recordingServer(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
        authorization: req.headers.authorization,
      });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    stop() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Server = Awaited<ReturnType<typeof recordingServer>>;

let elsewhere: Server;
let issuer: Server;
let status = 307;

before(async () => {
  // What a second origin would answer if the SDK followed: a perfect token answer.
  elsewhere = await recordingServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: 'stolen', token_type: 'Bearer', expires_in: 600 }));
  });
  issuer = await recordingServer((req, res) => {
    res.writeHead(status, { location: `${elsewhere.url}${req.url}`, 'x-request-id': 'req-redirect-1' });
    res.end();
  });
});

after(async () => {
  await issuer.stop();
  await elsewhere.stop();
});

const SECRET = 'the-client-secret-never-leaves';
const REFRESH = 'eyJhbGciOiJFZERTQSJ9.refresh-token-never-leaves.c2ln';
const ACCESS = 'eyJhbGciOiJFZERTQSJ9.access-token-never-leaves.c2ln';

const client = () => new OAuthClient({ issuer: issuer.url, clientId: 'lap-timer', clientSecret: SECRET });

const calls: [string, (c: OAuthClient) => Promise<unknown>][] = [
  ['refresh', (c) => c.refresh(REFRESH)],
  ['passwordLimited', (c) => c.passwordLimited({ username: 'john@example.com', password: 'pw-secret-1' })],
  [
    'exchangeCode',
    (c) => c.exchangeCode({ code: 'code-1', redirectUri: 'https://app/cb', codeVerifier: 'v'.repeat(43) }),
  ],
  ['revokeCurrent', (c) => c.revokeCurrent(ACCESS)],
  ['revokeSessions', (c) => c.revokeSessions(ACCESS, ['s1'])],
  ['revokeClient', (c) => c.revokeClient(ACCESS)],
  ['profile', (c) => c.profile(ACCESS)],
  ['sessions', (c) => c.sessions(ACCESS)],
];

describe('a redirect is an OAuthError; nothing is sent to the address it names', () => {
  for (const code of [307, 308, 301, 302, 303]) {
    for (const [name, call] of calls) {
      test(`${name}: ${code}`, async () => {
        status = code;
        const before = issuer.seen.length;
        const err = await call(client()).then(
          () => assert.fail('expected an OAuthError'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof OAuthError, `an OAuthError, not ${err}`);
        assert.equal(err.error, 'server_error');
        assert.equal(err.status, code);
        assert.equal(err.requestId, 'req-redirect-1');
        assert.match(err.description ?? '', new RegExp(`answered ${code}`));
        assert.match(err.description ?? '', /redirects are not followed/);
        assert.ok(err.description?.includes(elsewhere.url), err.description);
        // One request to the issuer, none anywhere else: no second request, no credential moved.
        assert.equal(issuer.seen.length, before + 1);
        assert.deepEqual(elsewhere.seen, []);
      });
    }
  }

  test('the issuer got the credential once, as sent (the redirect target never did)', () => {
    const tokenPosts = issuer.seen.filter((s) => s.url === '/oauth2/token');
    assert.ok(tokenPosts.some((s) => s.body.includes('refresh_token=eyJ')));
    assert.ok(issuer.seen.some((s) => s.authorization === `Bearer ${ACCESS}`));
    assert.deepEqual(elsewhere.seen, []);
  });

  test('a fetch that follows redirects by itself: its answer is refused all the same', async () => {
    status = 307;
    // A fetch option that ignores redirect: 'manual' (a proxying wrapper, say).
    const following: typeof fetch = (input, init) => fetch(input, { ...init, redirect: 'follow' });
    const c = new OAuthClient({
      issuer: issuer.url,
      clientId: 'lap-timer',
      clientSecret: SECRET,
      fetch: following,
    });
    const err = await c.refresh(REFRESH).then(
      () => assert.fail('expected an OAuthError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OAuthError);
    assert.equal(err.error, 'server_error');
    assert.match(err.description ?? '', /redirect/);
    elsewhere.seen.length = 0;
  });
});
