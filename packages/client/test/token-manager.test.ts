// TokenManager: single-flight renewal, re-login with password_limited, Retry-After, expiry arithmetic —
// with a fake client and a clock the test moves; then a headless run against a real server whose access
// tokens live two seconds.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { refreshTokenHash } from '../../server/src/tokens/issue.ts';
import {
  MemoryTokenStore,
  OAuthClient,
  OAuthError,
  type PasswordLimitedOptions,
  type StoredTokens,
  TokenManager,
  type TokenSet,
} from '../src/index.ts';
import { headlessSetup, noteSecret, recordingFetch, startInProcess, type TestServer } from './harness.ts';

const T0 = 1_700_000_000_000;

/** Behaves like the server: refresh tokens are single use; every answer takes a few milliseconds. */
class FakeClient {
  refreshCalls: string[] = [];
  loginCalls: PasswordLimitedOptions[] = [];
  /** Errors to throw from the next calls, in order. */
  refreshFailures: OAuthError[] = [];
  loginFailures: OAuthError[] = [];
  ttl = 60;
  onCall: () => void = () => {};
  #n = 0;
  #unused = new Set<string>();

  issue(): TokenSet {
    const n = ++this.#n;
    this.#unused.add(`r${n}`);
    return {
      access_token: `a${n}`,
      token_type: 'Bearer',
      expires_in: this.ttl,
      refresh_token: `r${n}`,
      refresh_token_expires_in: 3600,
      scope: 'iracing.auth',
    };
  }

  async refresh(refreshToken: string): Promise<TokenSet> {
    this.refreshCalls.push(refreshToken);
    await delay(5);
    this.onCall();
    const failure = this.refreshFailures.shift();
    if (failure) throw failure;
    if (!this.#unused.delete(refreshToken)) {
      throw new OAuthError('invalid_grant', { status: 400, description: 'refresh token already used' });
    }
    return this.issue();
  }

  async passwordLimited(options: PasswordLimitedOptions): Promise<TokenSet> {
    this.loginCalls.push(options);
    await delay(5);
    this.onCall();
    const failure = this.loginFailures.shift();
    if (failure) throw failure;
    return this.issue();
  }
}

/** A fake client whose server advertises a reuse grace period in its metadata (or fails to answer it). */
class GraceClient extends FakeClient {
  grace: number | Error = 30;
  metadataCalls = 0;
  async metadata() {
    this.metadataCalls++;
    if (this.grace instanceof Error) throw this.grace;
    return { issuer: 'https://auth.example', refresh_token_reuse_grace_seconds: this.grace };
  }
}

function setup(
  options: {
    credentials?: PasswordLimitedOptions;
    store?: MemoryTokenStore;
    margin?: number;
    client?: FakeClient;
  } = {},
) {
  const clock = { t: T0 };
  const sleeps: number[] = [];
  const client = options.client ?? new FakeClient();
  const store = options.store ?? new MemoryTokenStore();
  const manager = new TokenManager({
    client,
    store,
    ...(options.margin !== undefined && { marginSeconds: options.margin }),
    ...(options.credentials && { credentials: options.credentials }),
    now: () => clock.t,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { clock, sleeps, client, store, manager };
}

const CREDS = { username: 'bot@example.com', password: 'hunter2', scope: 'iracing.auth' };

async function rejectsWith(p: Promise<unknown>, error: string): Promise<OAuthError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof OAuthError, String(e));
    assert.equal(e.error, error, e.message);
    return e;
  }
  assert.fail(`expected OAuthError ${error}`);
}

describe('TokenManager with a fake client', () => {
  test('20 concurrent callers across an expiry share exactly one refresh', async () => {
    const { clock, client, manager, store } = setup();
    await manager.setTokens(client.issue()); // a1, r1, 60 s
    assert.equal(await manager.getAccessToken(), 'a1');
    clock.t += 31_000; // 29 s left: inside the 30 s margin
    const tokens = await Promise.all(Array.from({ length: 20 }, () => manager.getAccessToken()));
    assert.deepEqual(new Set(tokens), new Set(['a2']));
    assert.deepEqual(client.refreshCalls, ['r1']);
    assert.equal((await store.load())?.refresh_token, 'r2');

    // The new token is used as is; a later expiry again costs exactly one refresh.
    assert.deepEqual(
      await Promise.all(Array.from({ length: 20 }, () => manager.getAccessToken())),
      Array(20).fill('a2'),
    );
    assert.equal(client.refreshCalls.length, 1);
    clock.t += 600_000;
    const again = await Promise.all(Array.from({ length: 20 }, () => manager.getAccessToken()));
    assert.deepEqual(new Set(again), new Set(['a3']));
    assert.deepEqual(client.refreshCalls, ['r1', 'r2']);
  });

  test('callers that arrive while a refresh is in flight join it', async () => {
    const { clock, client, manager } = setup();
    await manager.setTokens(client.issue());
    clock.t += 59_000;
    const first = manager.getAccessToken();
    await delay(1); // the refresh is now in flight
    const late = await Promise.all(Array.from({ length: 10 }, () => manager.getAccessToken()));
    assert.equal(await first, 'a2');
    assert.deepEqual(late, Array(10).fill('a2'));
    assert.equal(client.refreshCalls.length, 1);
  });

  test('a stale token in the store is loaded once and refreshed once for concurrent first callers', async () => {
    const store = new MemoryTokenStore();
    let loads = 0;
    const load = store.load.bind(store);
    store.load = async () => {
      loads++;
      return load();
    };
    await store.save({ access_token: 'old', refresh_token: 'r1', access_expires_at: T0 + 10_000 });
    const { client, manager } = setup({ store });
    client.issue(); // makes r1 a valid refresh token on the fake server
    const tokens = await Promise.all(Array.from({ length: 20 }, () => manager.getAccessToken()));
    assert.deepEqual(new Set(tokens), new Set(['a2']));
    assert.equal(loads, 1);
    assert.deepEqual(client.refreshCalls, ['r1']);
  });

  test('a token is used until it has no more than the margin left', async () => {
    const { clock, client, manager } = setup({ margin: 10 });
    // expires_in 60 s: counted as 59 s, since servers count whole seconds and may end it up to 1 s early.
    await manager.setTokens(client.issue());
    clock.t = T0 + 48_999; // 10.001 s left
    assert.equal(await manager.getAccessToken(), 'a1');
    clock.t = T0 + 49_000; // exactly 10 s left
    assert.equal(await manager.getAccessToken(), 'a2');
  });

  test('a token shorter-lived than twice the margin is used for the first half of its life', async () => {
    const { clock, client, manager } = setup({ margin: 30 });
    client.ttl = 11; // counted as 10 s: the margin shrinks from 30 s to 5 s
    await manager.setTokens(client.issue());
    clock.t = T0 + 4_999;
    assert.equal(await manager.getAccessToken(), 'a1');
    assert.equal(await manager.getAccessToken(), 'a1');
    clock.t = T0 + 5_000;
    assert.equal(await manager.getAccessToken(), 'a2');
  });

  test('expiry counts from when the request was sent', async () => {
    const { clock, client, manager, store } = setup();
    await manager.setTokens(client.issue());
    clock.t += 60_000;
    const sentAt = clock.t;
    client.onCall = () => {
      clock.t += 4_000; // a slow answer
    };
    await manager.getAccessToken();
    const saved = (await store.load()) as StoredTokens;
    // One second less than the lifetimes given: the server counts whole seconds.
    assert.equal(saved.access_expires_at, sentAt + 59_000);
    assert.equal(saved.refresh_expires_at, sentAt + 3_599_000);
    assert.equal(saved.scope, 'iracing.auth');
  });

  test('a refused refresh (invalid_grant) signs in again with password_limited when credentials are given', async () => {
    const { clock, client, manager, store } = setup({ credentials: CREDS });
    await manager.setTokens(client.issue());
    clock.t += 60_000;
    client.refreshFailures.push(new OAuthError('invalid_grant', { status: 400 }));
    const tokens = await Promise.all(Array.from({ length: 5 }, () => manager.getAccessToken()));
    assert.deepEqual(tokens, Array(5).fill('a2'));
    assert.deepEqual(client.refreshCalls, ['r1']);
    assert.deepEqual(client.loginCalls, [CREDS]);
    assert.equal((await store.load())?.refresh_token, 'r2');
  });

  test('with credentials and no tokens, the first call signs in (once for concurrent callers)', async () => {
    const { client, manager } = setup({ credentials: CREDS });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => manager.getAccessToken()));
    assert.deepEqual(tokens, Array(10).fill('a1'));
    assert.equal(client.loginCalls.length, 1);
    assert.equal(client.refreshCalls.length, 0);
  });

  test('without credentials a refused refresh is thrown, the tokens are forgotten, then login_required', async () => {
    const { clock, client, manager, store } = setup();
    await manager.setTokens(client.issue());
    clock.t += 60_000;
    client.refreshFailures.push(new OAuthError('invalid_grant', { status: 400 }));
    await rejectsWith(manager.getAccessToken(), 'invalid_grant');
    assert.equal(await store.load(), undefined);
    await rejectsWith(manager.getAccessToken(), 'login_required');
    assert.equal(client.refreshCalls.length, 1);
    assert.equal(client.loginCalls.length, 0);
  });

  test('no tokens and no credentials: login_required', async () => {
    const { manager } = setup();
    const e = await rejectsWith(manager.getAccessToken(), 'login_required');
    assert.match(e.description ?? '', /sign in/);
  });

  test('other refresh failures are thrown and the tokens kept for the next try', async () => {
    const { clock, client, manager } = setup({ credentials: CREDS });
    await manager.setTokens(client.issue());
    clock.t += 60_000;
    client.refreshFailures.push(new OAuthError('network_error'));
    await rejectsWith(manager.getAccessToken(), 'network_error');
    assert.equal(await manager.getAccessToken(), 'a2');
    assert.deepEqual(client.refreshCalls, ['r1', 'r1']);
    assert.equal(client.loginCalls.length, 0);
  });

  test('a lost refresh answer is retried once, with the same token, when the server advertises a grace', async () => {
    const { clock, client, manager } = setup({ client: new GraceClient() });
    await manager.setTokens(client.issue());
    clock.t += 60_000;
    client.refreshFailures.push(new OAuthError('network_error'));
    assert.equal(await manager.getAccessToken(), 'a2');
    assert.deepEqual(client.refreshCalls, ['r1', 'r1']);
  });

  test('a lost retry is not retried again', async () => {
    const { clock, client, manager } = setup({ client: new GraceClient() });
    await manager.setTokens(client.issue());
    clock.t += 60_000;
    client.refreshFailures.push(new OAuthError('network_error'), new OAuthError('network_error'));
    await rejectsWith(manager.getAccessToken(), 'network_error');
    assert.deepEqual(client.refreshCalls, ['r1', 'r1']);
  });

  test('no retry for an error answer, once the grace has passed, or when the metadata cannot be read', async () => {
    const client = new GraceClient();
    const { clock, manager } = setup({ client });
    await manager.setTokens(client.issue());
    clock.t += 60_000;
    client.refreshFailures.push(new OAuthError('server_error', { status: 500 }));
    await rejectsWith(manager.getAccessToken(), 'server_error');
    assert.equal(client.metadataCalls, 0);
    client.refreshFailures.push(new OAuthError('network_error'));
    client.onCall = () => {
      clock.t += 30_000;
    };
    await rejectsWith(manager.getAccessToken(), 'network_error');
    client.onCall = () => {};
    client.grace = new OAuthError('network_error');
    client.refreshFailures.push(new OAuthError('network_error'));
    await rejectsWith(manager.getAccessToken(), 'network_error');
    assert.deepEqual(client.refreshCalls, ['r1', 'r1', 'r1']);
    assert.equal(client.metadataCalls, 2);
  });

  test('an expired refresh token is not sent: the manager signs in again', async () => {
    const { clock, client, manager } = setup({ credentials: CREDS });
    await manager.setTokens(client.issue()); // refresh token lives 3600 s
    clock.t += 3_600_000;
    assert.equal(await manager.getAccessToken(), 'a2');
    assert.equal(client.refreshCalls.length, 0);
    assert.equal(client.loginCalls.length, 1);
  });

  test('Retry-After is honoured: sleep for it, then sign in again', async () => {
    const { client, manager, sleeps } = setup({ credentials: CREDS });
    client.loginFailures.push(new OAuthError('unauthorized_client', { status: 400, retryAfter: 7 }));
    assert.equal(await manager.getAccessToken(), 'a1');
    assert.deepEqual(sleeps, [7000]);
    assert.equal(client.loginCalls.length, 2);
  });

  test('Retry-After retries are bounded; errors without Retry-After are not retried', async () => {
    const limited = setup({ credentials: CREDS });
    for (let i = 0; i < 5; i++) {
      limited.client.loginFailures.push(
        new OAuthError('unauthorized_client', { status: 400, retryAfter: 2 }),
      );
    }
    const e = await rejectsWith(limited.manager.getAccessToken(), 'unauthorized_client');
    assert.equal(e.retryAfter, 2);
    assert.equal(limited.client.loginCalls.length, 3);
    assert.deepEqual(limited.sleeps, [2000, 2000]);

    const denied = setup({ credentials: CREDS });
    denied.client.loginFailures.push(new OAuthError('access_denied', { status: 401 }));
    await rejectsWith(denied.manager.getAccessToken(), 'access_denied');
    assert.equal(denied.client.loginCalls.length, 1);
    assert.deepEqual(denied.sleeps, []);
  });

  test('setTokens() and clear() during a refresh win over its result', async () => {
    const { clock, client, manager, store } = setup();
    await manager.setTokens(client.issue());
    clock.t += 60_000;
    const inflight = manager.getAccessToken();
    await delay(1);
    await manager.setTokens({ access_token: 'mine', token_type: 'Bearer', expires_in: 600 });
    assert.equal(await inflight, 'a2', 'the callers of the refresh get its token');
    assert.equal(await manager.getAccessToken(), 'mine');
    assert.equal((await store.load())?.access_token, 'mine');

    clock.t += 600_000;
    await manager.setTokens(client.issue()); // a3, r3
    clock.t += 60_000;
    const second = manager.getAccessToken();
    await delay(1);
    await manager.clear();
    await second;
    assert.equal(await store.load(), undefined);
    await rejectsWith(manager.getAccessToken(), 'login_required');
  });

  test('tokens in the store are used by a new manager without any call', async () => {
    const first = setup();
    await first.manager.setTokens(first.client.issue());
    const second = setup({ store: first.store });
    assert.equal(await second.manager.getAccessToken(), 'a1');
    assert.equal(second.client.refreshCalls.length + second.client.loginCalls.length, 0);
  });

  test('the manager does not keep the password where JSON can reach it', () => {
    const { manager } = setup({ credentials: CREDS });
    assert.ok(!JSON.stringify(manager).includes('hunter2'));
  });
});

describe('TokenManager against a real server', () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({ name: 'sdk-token-manager' });
  });
  after(() => server.stop());

  test('a headless run across six 2-second access-token lifetimes never fails a call', async () => {
    const h = await headlessSetup(server.ctx!.store, { access_token_ttl: 2 });
    const rec = recordingFetch();
    const client = new OAuthClient({
      issuer: server.url,
      clientId: h.clientId,
      clientSecret: h.secret,
      fetch: rec.fetch,
    });
    const manager = new TokenManager({
      client,
      marginSeconds: 1,
      credentials: { username: h.user.username, password: h.user.password, scope: 'iracing.profile' },
    });
    const until = Date.now() + 12_000;
    let calls = 0;
    // Four workers, as parts of one app would, each asking for a token and calling the profile.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (Date.now() < until) {
          const profile = await client.profile(await manager.getAccessToken());
          assert.equal(profile.iracing_cust_id, h.user.custId);
          calls++;
          await delay(20);
        }
      }),
    );
    const tokenCalls = rec.calls.filter((c) => c.url.endsWith('/oauth2/token'));
    const grants = tokenCalls.map((c) => c.form.get('grant_type'));
    assert.equal(grants.filter((g) => g === 'password_limited').length, 1, 'signed in once');
    const refreshes = tokenCalls.filter((c) => c.form.get('grant_type') === 'refresh_token');
    assert.ok(refreshes.length >= 5, `at least five refreshes, got ${refreshes.length}`);
    assert.deepEqual(
      tokenCalls.map((c) => c.status),
      tokenCalls.map(() => 200),
      'every /token call succeeded: no invalid_grant',
    );
    const spent = refreshes.map((c) => c.form.get('refresh_token'));
    assert.equal(new Set(spent).size, spent.length, 'each refresh token was sent once');
    assert.ok(rec.calls.filter((c) => c.url.endsWith('/profile')).every((c) => c.status === 200));
    assert.ok(calls > 100, `${calls} profile calls`);
    // The server saw no reuse: the one session is still live.
    const live = await server.ctx!.store.liveSessions(
      h.user.userId,
      h.clientId,
      Math.floor(Date.now() / 1000),
    );
    assert.equal(live.length, 1);
  });
});

/**
 * A proxy in front of a server that loses the answer to the first refresh: it forwards the request (the
 * server rotates the token) and reads the answer, then destroys the client's connection instead of
 * passing it on, as a network drop or a crash between commit and reply would.
 */
async function droppingProxy(upstream: string) {
  const requests: { path: string; form: URLSearchParams }[] = [];
  const swallowed: { refresh_token: string }[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const form = new URLSearchParams(body.toString());
    requests.push({ path: req.url!, form });
    const headers: Record<string, string> = {};
    for (const h of ['accept', 'authorization', 'content-type'])
      if (req.headers[h]) headers[h] = String(req.headers[h]);
    const up = await fetch(`${upstream}${req.url}`, {
      method: req.method!,
      headers,
      ...(req.method === 'POST' && { body }),
    });
    const text = await up.text();
    if (form.get('grant_type') === 'refresh_token' && swallowed.length === 0) {
      swallowed.push(JSON.parse(text));
      noteSecret(swallowed[0]!.refresh_token);
      req.socket.destroy();
      return;
    }
    res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'text/plain' });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refreshes: () => requests.filter((r) => r.form.get('grant_type') === 'refresh_token'),
    swallowed,
    close: () => new Promise((r) => server.close(r)),
  };
}

describe('TokenManager when the answer to a refresh is lost', () => {
  let grace: TestServer;
  let strict: TestServer;
  before(async () => {
    grace = await startInProcess({ name: 'sdk-lost-grace', env: { PADDOCK_REFRESH_REUSE_GRACE: '30' } });
    strict = await startInProcess({ name: 'sdk-lost-strict' });
  });
  after(async () => {
    await grace.stop();
    await strict.stop();
  });

  /** A manager holding tokens through the proxy, whose clock says the access token has expired. */
  async function staleManager(server: TestServer) {
    const h = await headlessSetup(server.ctx!.store);
    const proxy = await droppingProxy(server.url);
    const client = new OAuthClient({ issuer: proxy.url, clientId: h.clientId, clientSecret: h.secret });
    const clock = { t: Date.now() };
    const manager = new TokenManager({ client, now: () => clock.t });
    const first = await client.passwordLimited({
      username: h.user.username,
      password: h.user.password,
      scope: 'iracing.profile',
    });
    noteSecret(first.access_token, first.refresh_token);
    await manager.setTokens(first);
    clock.t += first.expires_in * 1000;
    const live = () =>
      server.ctx!.store.liveSessions(h.user.userId, h.clientId, Math.floor(Date.now() / 1000));
    return { h, proxy, client, manager, first, live };
  }

  test('the server advertises a grace: the manager retries once with the same token and recovers', async () => {
    const { proxy, client, manager, first, live } = await staleManager(grace);
    try {
      const token = await manager.getAccessToken();
      noteSecret(token);
      const sent = proxy.refreshes().map((r) => r.form.get('refresh_token'));
      assert.deepEqual(sent, [first.refresh_token, first.refresh_token], 'the same token, twice');
      assert.equal((await client.profile(token)).iracing_name, 'John West');
      assert.equal((await live()).length, 1, 'the session survived');
      // The successor whose answer was lost is dead.
      const swallowed = proxy.swallowed[0]!.refresh_token;
      const row = await grace.ctx!.store.refreshTokens.get(refreshTokenHash(grace.ctx!, swallowed));
      assert.ok(row?.used_at, 'the lost successor is consumed');
    } finally {
      await proxy.close();
    }
  });

  test('without a grace the manager does not retry: the loss is thrown and the token kept', async () => {
    const { proxy, manager, first, live } = await staleManager(strict);
    try {
      await assert.rejects(
        manager.getAccessToken(),
        (e: unknown) => (e as OAuthError).error === 'network_error',
      );
      assert.deepEqual(
        proxy.refreshes().map((r) => r.form.get('refresh_token')),
        [first.refresh_token],
      );
      assert.equal((await live()).length, 1);
      // What the grace is for: presenting that token again later is reuse, and ends the session.
      await assert.rejects(
        manager.getAccessToken(),
        (e: unknown) => (e as OAuthError).error === 'invalid_grant',
      );
      assert.equal((await live()).length, 0);
    } finally {
      await proxy.close();
    }
  });
});
