// PostgreSQL: refresh rotations and code exchanges asked for in one turn of the event loop share one
// statement (store/batcher.ts). Each must still be answered as if it had run alone: its own session, its
// own refusal, a token or code named twice spent once, and a statement that fails failing only the call
// that made it fail.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { DbObserver } from '../src/store/db.ts';
import type { CodeExchange } from '../src/store/flow.ts';
import { RefreshTokenStore, type Rotation } from '../src/store/refresh-tokens.ts';
import { sha256 } from '../src/tokens/hash.ts';
import { pkcePair } from './code-flow.ts';
import { type Headless, headless, login } from './fixtures.ts';
import { createPgDatabase, decodeJwt, pgSkip, post, startInProcess, type TestServer } from './helpers.ts';

describe('PostgreSQL batches of rotations and code exchanges', { skip: pgSkip }, () => {
  let server: TestServer;
  let drop: () => Promise<void>;
  before(async () => {
    const db = await createPgDatabase();
    drop = db.drop;
    server = await startInProcess({ name: 'pg-batches', env: { DATABASE_URL: db.url } });
  });
  after(async () => {
    await server?.stop();
    await drop?.();
  });
  const store = () => server.ctx!.store;
  const now = () => Math.floor(Date.now() / 1000);

  /**
   * The batched statements the store runs while `fn` runs, as it reports them to metrics: one
   * `name:size` each. (A count of every statement would also count the process's own background writes,
   * such as a fresh client's first use, which finish whenever they finish.)
   */
  async function batchesDuring<T>(fn: () => Promise<T>): Promise<{ result: T; batches: string[] }> {
    const db = store().db;
    const observer = db.observer;
    const batches: string[] = [];
    db.observer = {
      query: (ms) => observer?.query(ms),
      transaction: (ms) => observer?.transaction(ms),
      batch: (size) => observer?.batch(size),
      grouped: (name, size) => {
        batches.push(`${name}:${size}`);
        observer?.grouped(name, size);
      },
    } satisfies DbObserver;
    try {
      return { result: await fn(), batches };
    } finally {
      db.observer = observer;
    }
  }

  /** A session of a fresh user and client, and its refresh token, as the store knows them. */
  async function session(): Promise<{
    h: Headless;
    sessionId: string;
    tokenHash: string;
    expiresAt: number;
  }> {
    const h = await headless(store());
    const r = await login(server, h);
    assert.equal(r.status, 200, r.text);
    const sessionId = decodeJwt(r.body.access_token).payload.session_id;
    const s = (await store().getSession(sessionId))!;
    return { h, sessionId, tokenHash: sha256(r.body.refresh_token), expiresAt: s.expires_at };
  }

  function rotation(
    s: Awaited<ReturnType<typeof session>>,
    successor = randomBytes(16).toString('hex'),
  ): Rotation {
    const t = now();
    return {
      tokenHash: s.tokenHash,
      clientId: s.h.clientId,
      now: t,
      sessionExpiresAt: s.expiresAt,
      successor: {
        token_hash: successor,
        session_id: s.sessionId,
        client_id: s.h.clientId,
        expires_at: s.expiresAt,
        created_at: t,
      },
      linkSuccessor: false,
      ip: '192.0.2.7',
      userAgent: 'batch-test',
    };
  }

  test('rotations asked for together run as one statement, each answered with its own session', async () => {
    const [a, b, c] = [await session(), await session(), await session()];
    const unknown = { ...rotation(b), tokenHash: sha256('never issued') };
    const { result, batches } = await batchesDuring(() =>
      Promise.all([rotation(a), unknown, rotation(c)].map((r) => store().refreshTokens.rotateAtOnce(r))),
    );
    assert.deepEqual(batches, ['refresh_rotation:3']);
    assert.equal(result[0]?.session.session_id, a.sessionId);
    assert.equal(result[0]?.user.user_id, a.h.userId);
    assert.equal(result[1], undefined);
    assert.equal(result[2]?.session.session_id, c.sessionId);
    assert.equal(result[2]?.user.user_id, c.h.userId);
    // Each spent its own token and stored its own successor; b's token was not touched.
    for (const s of [a, c]) assert.notEqual((await store().refreshTokens.get(s.tokenHash))!.used_at, null);
    assert.equal((await store().refreshTokens.get(b.tokenHash))!.used_at, null);
    const touched = (await store().getSession(a.sessionId))!;
    assert.equal(touched.last_user_agent, 'batch-test');
    assert.equal((await store().getSession(b.sessionId))!.last_user_agent === 'batch-test', false);
  });

  test('a batched statement is planned once per connection, however few calls each batch carries', async () => {
    const a = await session();
    const lone = { ...rotation(a), tokenHash: sha256('never issued') };
    const plans = await store().db.transaction(async (tx) => {
      // PostgreSQL tries custom plans for a prepared statement's first five runs and then keeps to them
      // for as long as they look cheaper than the generic one, as they do for a batch of one.
      for (let i = 0; i < 8; i++)
        assert.deepEqual(await new RefreshTokenStore(tx).rotateMany([lone]), [undefined]);
      return tx.all<{ generic_plans: number; custom_plans: number }>(
        `SELECT generic_plans, custom_plans FROM pg_prepared_statements
         WHERE statement LIKE '%unnest(%successor_hash%' AND statement NOT LIKE '%pg_prepared_statements%'`,
      );
    });
    assert.equal(plans.length, 1);
    assert.deepEqual(plans[0], { generic_plans: 8, custom_plans: 0 });
  });

  test('a token named twice in one batch is spent once', async () => {
    const a = await session();
    const [first, second] = await Promise.all([
      store().refreshTokens.rotateAtOnce(rotation(a)),
      store().refreshTokens.rotateAtOnce(rotation(a)),
    ]);
    assert.equal([first, second].filter(Boolean).length, 1);
    const live = await store().db.all<{ n: number }>(
      'SELECT COUNT(*)::int AS n FROM refresh_tokens WHERE session_id = ? AND used_at IS NULL',
      [a.sessionId],
    );
    assert.equal(live[0]!.n, 1);
  });

  test("a statement that fails is tried again for each call alone: one call's failure is its own", async () => {
    const [a, b] = [await session(), await session()];
    // b's successor would take a hash that is already stored: the INSERT fails, and with it the statement.
    const clash = rotation(b, a.tokenHash);
    const {
      result: [ok, failed],
      batches,
    } = await batchesDuring(() =>
      Promise.allSettled([
        store().refreshTokens.rotateAtOnce(rotation(a)),
        store().refreshTokens.rotateAtOnce(clash),
      ]),
    );
    // The batch of two, then each alone: three statements, and metrics hear of all three.
    assert.deepEqual(batches, ['refresh_rotation:2', 'refresh_rotation:1', 'refresh_rotation:1']);
    assert.equal(ok.status, 'fulfilled');
    assert.equal(ok.status === 'fulfilled' && ok.value?.session.session_id, a.sessionId);
    assert.equal(failed.status, 'rejected');
    // Nothing of the failed rotation stayed.
    assert.equal((await store().refreshTokens.get(b.tokenHash))!.used_at, null);
  });

  test('over HTTP: refreshes sent together all rotate, and a token sent twice at once revokes its session', async () => {
    const sessions = await Promise.all(Array.from({ length: 4 }, () => session()));
    const tokens = await Promise.all(
      sessions.map(async (s) => {
        const r = await login(server, s.h);
        return {
          s,
          rt: r.body.refresh_token as string,
          sid: decodeJwt(r.body.access_token).payload.session_id,
        };
      }),
    );
    const refreshOf = (t: (typeof tokens)[number]) =>
      post(`${server.url}/oauth2/token`, {
        grant_type: 'refresh_token',
        client_id: t.s.h.clientId,
        client_secret: t.s.h.maskedSecret,
        refresh_token: t.rt,
      });
    const answers = await Promise.all(tokens.map(refreshOf));
    for (const [i, r] of answers.entries()) {
      assert.equal(r.status, 200, r.text);
      assert.equal(decodeJwt(r.body.access_token).payload.session_id, tokens[i]!.sid);
    }
    const twice = { ...tokens[0]!, rt: answers[0]!.body.refresh_token as string };
    const pair = await Promise.all([refreshOf(twice), refreshOf(twice)]);
    assert.deepEqual(pair.map((r) => r.status).sort(), [200, 400]);
    assert.equal((await store().getSession(twice.sid))!.revoked_reason, 'refresh_token_reused');
  });

  describe('code exchanges', () => {
    /** A code of a fresh user for a fresh code-flow client, stored as /authorize would. */
    async function code(): Promise<{ h: Headless; code: string; verifier: string; redirectUri: string }> {
      const redirectUri = 'https://app.example.com/callback';
      const h = await headless(store(), {
        client: { grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [redirectUri] },
      });
      const { verifier, challenge } = pkcePair();
      const value = randomBytes(32).toString('base64url');
      const t = now();
      await store().flow.insertAuthorizationCode({
        code_hash: sha256(value),
        client_id: h.clientId,
        user_id: h.userId,
        redirect_uri: redirectUri,
        scope: 'iracing.auth',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        auth_time: t,
        ip: '192.0.2.9',
        user_agent: 'batch-test',
        created_at: t,
        expires_at: t + 60,
        used_at: null,
        session_id: null,
      });
      return { h, code: value, verifier, redirectUri };
    }

    const exchange = (c: Awaited<ReturnType<typeof code>>): CodeExchange => ({
      codeHash: sha256(c.code),
      clientId: c.h.clientId,
      now: now(),
      sessionId: randomUUID(),
      sessionExpiresAt: now() + 3600,
      refresh: { token_hash: randomBytes(16).toString('hex'), expires_at: now() + 3600 },
    });

    test('exchanges asked for together run as one statement; a code named twice is spent once', async () => {
      const [a, b] = [await code(), await code()];
      const asked = [exchange(a), exchange(b), exchange(a)];
      const { result, batches } = await batchesDuring(() =>
        Promise.all(asked.map((e) => store().flow.exchangeCodeAtOnce(e))),
      );
      assert.deepEqual(batches, ['code_exchange:3']);
      assert.equal(result[1]?.user?.user_id, b.h.userId);
      assert.equal(result[1]?.code.client_id, b.h.clientId);
      assert.equal(result[1]?.code.session_id, asked[1]!.sessionId);
      // a's code went to exactly one of the two that named it, with a session and refresh token of its own.
      const won = [0, 2].filter((i) => result[i] !== undefined);
      assert.equal(won.length, 1);
      const sessionId = asked[won[0]!]!.sessionId;
      assert.equal(result[won[0]!]!.code.session_id, sessionId);
      assert.equal((await store().getSession(sessionId))!.user_id, a.h.userId);
      const loser = asked[won[0] === 0 ? 2 : 0]!;
      assert.equal(await store().getSession(loser.sessionId), undefined);
      assert.equal(await store().refreshTokens.get(loser.refresh!.token_hash), undefined);
      assert.notEqual(await store().refreshTokens.get(asked[won[0]!]!.refresh!.token_hash), undefined);
    });

    test('over HTTP: codes exchanged together each start their own session', async () => {
      const codes = await Promise.all(Array.from({ length: 4 }, () => code()));
      const answers = await Promise.all(
        codes.map((c) =>
          post(`${server.url}/oauth2/token`, {
            grant_type: 'authorization_code',
            client_id: c.h.clientId,
            client_secret: c.h.maskedSecret,
            code: c.code,
            redirect_uri: c.redirectUri,
            code_verifier: c.verifier,
          }),
        ),
      );
      for (const [i, r] of answers.entries()) {
        assert.equal(r.status, 200, r.text);
        const s = (await store().getSession(decodeJwt(r.body.access_token).payload.session_id))!;
        assert.equal(s.user_id, codes[i]!.h.userId);
        assert.equal(s.client_id, codes[i]!.h.clientId);
      }
    });
  });
});
