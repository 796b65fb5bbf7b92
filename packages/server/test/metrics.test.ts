// /metrics as an operator's Prometheus sees it: text a maintained parser reads, counters that move by
// exactly the traffic that should move them (grants and their outcomes, reuse detection, rate limits,
// lockouts), store latency, SQLite group commit and PostgreSQL pool, the active-session gauge, one
// scrape for several processes (prom-client's aggregator), and the admin port keeping metrics private.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import parsePrometheus, { type Family, type Sample } from 'parse-prometheus-text-format';
import { AggregatorRegistry } from 'prom-client';
import { createClient } from '../src/clients/registry.ts';
import { mask } from '../src/oauth/masking.ts';
import { assertBookError } from './assertions.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import {
  cli,
  createPgDatabase,
  freePort,
  get,
  noteSecret,
  pgSkip,
  post,
  REPO,
  startInProcess,
  startProcess,
  TestClock,
  type TestServer,
  tmpDir,
} from './helpers.ts';
import { Browser, hidden } from './http-browser.ts';

/** Every metric family Paddock defines itself (the Node.js process metrics come on top). */
const PADDOCK_FAMILIES: [string, Family['type']][] = [
  ['paddock_http_requests_total', 'COUNTER'],
  ['paddock_http_request_duration_seconds', 'HISTOGRAM'],
  ['paddock_grants_total', 'COUNTER'],
  ['paddock_token_reuse_detected_total', 'COUNTER'],
  ['paddock_rate_limit_exceeded_total', 'COUNTER'],
  ['paddock_locked_out_attempts_total', 'COUNTER'],
  ['paddock_store_duration_seconds', 'HISTOGRAM'],
  ['paddock_active_sessions', 'GAUGE'],
];

/** A sample value as Prometheus reads it (Go's ParseFloat: a decimal, or Inf or NaN in any case). */
const FLOAT = /^[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|nan)$/i;

/**
 * One scrape, parsed with parse-prometheus-text-format. That parser folds the series of a labelled
 * histogram into one (it keeps only unlabelled _sum and _count), so the same text is also read with
 * its histogram TYPE lines left out: each _bucket, _sum and _count series then stands with its labels.
 */
class Scrape {
  readonly families: Family[];
  private readonly series = new Map<string, Sample[]>();

  constructor(text: string) {
    this.families = parsePrometheus(text);
    const flat = text
      .split('\n')
      .filter((line) => !/^# TYPE \S+ histogram$/.test(line))
      .join('\n');
    // A histogram's series come label set by label set, so one name recurs: gather its samples.
    for (const f of parsePrometheus(flat)) {
      for (const s of f.metrics) assert.match(s.value ?? '', FLOAT, `${f.name} ${s.value}`);
      this.series.set(f.name, [...(this.series.get(f.name) ?? []), ...f.metrics]);
    }
  }

  family(name: string): Family | undefined {
    return this.families.find((f) => f.name === name);
  }

  /** The sum of the samples of a series whose labels include `labels` (0 when there are none). */
  value(name: string, labels: Record<string, string> = {}): number {
    return (this.series.get(name) ?? [])
      .filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))
      .reduce((n, s) => n + Number(s.value), 0);
  }

  /** A histogram's observation count and sum over the series whose labels include `labels`. */
  histogram(name: string, labels: Record<string, string> = {}): { count: number; sum: number } {
    return { count: this.value(`${name}_count`, labels), sum: this.value(`${name}_sum`, labels) };
  }

  /** Every label value of every sample. */
  labelValues(): string[] {
    return [...this.series.values()].flatMap((ss) => ss.flatMap((s) => Object.values(s.labels ?? {})));
  }
}

function parse(text: string): Scrape {
  return new Scrape(text);
}

async function scrape(url: string): Promise<Scrape> {
  const r = await get(url);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parse(r.text);
}

/** How much each of `checks` moved between two scrapes. */
function moved(before: Scrape, after: Scrape, checks: [string, Record<string, string>][]) {
  return checks.map(([name, labels]) => after.value(name, labels) - before.value(name, labels));
}

// ---- the authorization code flow, as a browser and an app run it

const SPA = 'metrics-spa';
const SPA_CB = 'https://spa.example/cb';

function pkce() {
  const verifier = randomBytes(48).toString('base64url');
  noteSecret(verifier);
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Opens /authorize and lands on its sign-in page; returns the page's form fields. */
async function signInPage(server: TestServer, b: Browser, challenge: string) {
  const q = new URLSearchParams({
    client_id: SPA,
    redirect_uri: SPA_CB,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'iracing.profile',
  });
  const start = await b.open(`${server.url}/oauth2/authorize?${q}`);
  const page = await b.open(start.location!);
  assert.equal(page.status, 200, page.text);
  const fields = { request_id: hidden(page.text, 'request_id'), csrf_token: hidden(page.text, 'csrf_token') };
  noteSecret(fields.csrf_token);
  return fields;
}

/** Signs in and consents; returns the code and its verifier. */
async function codeFor(server: TestServer, user: Headless): Promise<{ code: string; verifier: string }> {
  const b = new Browser();
  const { verifier, challenge } = pkce();
  const fields = await signInPage(server, b, challenge);
  const signedIn = await b.open(`${server.url}/oauth2/login`, {
    form: { ...fields, email: user.username, password: user.password },
  });
  assert.equal(signedIn.status, 303, signedIn.text);
  const consent = await b.open(signedIn.location!);
  const decided = await b.open(`${server.url}/oauth2/consent`, {
    form: {
      request_id: hidden(consent.text, 'request_id'),
      csrf_token: hidden(consent.text, 'csrf_token'),
      decision: 'allow',
    },
  });
  const code = new URL(decided.rawLocation!).searchParams.get('code');
  assert.ok(code, decided.rawLocation ?? decided.text);
  noteSecret(code);
  return { code, verifier };
}

// ---- the main port

describe('/metrics on the main port', () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({
      name: 'metrics',
      env: {
        PADDOCK_PASSWORD_LIMITED_LIMIT: '5',
        PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000',
        PADDOCK_LOCKOUT_THRESHOLD: '2',
      },
    });
    await createClient(
      server.ctx!.store,
      { client_id: SPA, client_name: 'Metrics SPA', client_type: 'public', redirect_uris: [SPA_CB] },
      0,
    );
  });
  after(() => server.stop());

  test('is Prometheus text: every Paddock family with its HELP and TYPE, and the Node.js process metrics', async () => {
    const s = await scrape(`${server.url}/metrics`);
    for (const [name, type] of PADDOCK_FAMILIES) {
      const f = s.family(name);
      assert.ok(f, `${name} is exposed`);
      assert.equal(f.type, type, name);
      assert.ok(f.help.length > 10, `${name} has a HELP line`);
    }
    assert.equal(s.family('paddock_sqlite_group_commit_size')?.type, 'HISTOGRAM');
    assert.equal(s.family('paddock_pg_pool_connections'), undefined, 'no pool metrics on SQLite');
    assert.equal(s.family('process_cpu_user_seconds_total')?.type, 'COUNTER');
    assert.equal(s.family('nodejs_eventloop_lag_seconds')?.type, 'GAUGE');
  });

  test('counters move by exactly the traffic: grants by outcome, reuse, rate limits, lockouts, requests by route', async () => {
    const before = await scrape(`${server.url}/metrics`);
    const token = `${server.url}/oauth2/token`;

    // password_limited then refresh_token: a success each, a reuse detection, an unknown token.
    const h = await headless(server.ctx!.store);
    const first = await login(server, h);
    assert.equal(first.status, 200, first.text);
    assert.equal((await refresh(server, h, first.body.refresh_token)).status, 200);
    const reused = await refresh(server, h, first.body.refresh_token);
    assert.equal(reused.body.error, 'invalid_grant');
    assert.match(reused.body.error_description, /already used/);
    assert.equal((await refresh(server, h, 'not-a-refresh-token')).body.error, 'invalid_grant');

    // The per client+user bucket holds 5: two more are refused as rate limited.
    const limited = await headless(server.ctx!.store);
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await login(server, limited)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 400, 400]);

    // Lockout after 2 failures: 2 wrong passwords refused as such, the next 2 attempts as locked out.
    const victim = await headless(server.ctx!.store);
    const wrong = [];
    for (let i = 0; i < 4; i++) {
      const r = await login(server, victim, { password: mask(`wrong-${i}`, victim.username) });
      wrong.push(r.body.error);
    }
    assert.deepEqual(wrong, ['access_denied', 'access_denied', 'unauthorized_client', 'unauthorized_client']);

    // The sign-in page keeps a lockout of its own: two wrong passwords there, then even the right one
    // is refused as locked out (429).
    const b = new Browser();
    const fields = await signInPage(server, b, pkce().challenge);
    for (let i = 0; i < 2; i++) {
      const miss = await b.open(`${server.url}/oauth2/login`, {
        form: { ...fields, email: victim.username, password: `wrong-page-${i}` },
      });
      assert.equal(miss.status, 401, miss.text);
    }
    const page = await b.open(`${server.url}/oauth2/login`, {
      form: { ...fields, email: victim.username, password: victim.password },
    });
    assert.equal(page.status, 429, page.text);

    // authorization_code: one exchange, then the same code again (reuse detection).
    const user = await headless(server.ctx!.store);
    const { code, verifier } = await codeFor(server, user);
    const exchange = { grant_type: 'authorization_code', client_id: SPA, code, redirect_uri: SPA_CB };
    const exchanged = await post(token, { ...exchange, code_verifier: verifier });
    assert.equal(exchanged.status, 200, exchanged.text);
    noteSecret(exchanged.body.access_token, exchanged.body.refresh_token);
    const again = await post(token, { ...exchange, code_verifier: verifier });
    assert.equal(again.body.error, 'invalid_grant');

    // A path no route serves, with something secret-looking in it and its query.
    assert.equal((await get(`${server.url}/no/such/path-xyz?token=abc123`)).status, 404);

    const after = await scrape(`${server.url}/metrics`);
    const grants = (grant_type: string, outcome: string) =>
      ['paddock_grants_total', { grant_type, outcome }] as [string, Record<string, string>];
    assert.deepEqual(
      moved(before, after, [
        grants('password_limited', 'success'),
        grants('password_limited', 'unauthorized_client'),
        grants('password_limited', 'access_denied'),
        grants('refresh_token', 'success'),
        grants('refresh_token', 'invalid_grant'),
        grants('authorization_code', 'success'),
        grants('authorization_code', 'invalid_grant'),
        ['paddock_token_reuse_detected_total', { token_type: 'refresh_token' }],
        ['paddock_token_reuse_detected_total', { token_type: 'authorization_code' }],
        ['paddock_rate_limit_exceeded_total', { bucket: 'client_user' }],
        ['paddock_rate_limit_exceeded_total', { bucket: 'ip' }],
        ['paddock_locked_out_attempts_total', { via: 'password_limited' }],
        ['paddock_locked_out_attempts_total', { via: 'sign_in' }],
      ]),
      [1 + 5, 2 + 2, 2, 1, 2, 1, 1, 1, 1, 2, 0, 2, 1],
    );

    const tokenRoute = (status: string) => ({ method: 'POST', route: '/oauth2/token', status });
    assert.deepEqual(
      moved(before, after, [
        ['paddock_http_requests_total', tokenRoute('200')],
        ['paddock_http_requests_total', tokenRoute('400')],
        ['paddock_http_requests_total', tokenRoute('401')],
        ['paddock_http_requests_total', { method: 'POST', route: '/oauth2/login', status: '429' }],
        ['paddock_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }],
      ]),
      [6 + 1 + 1, 2 + 2 + 2 + 1, 2, 1, 1],
    );
    const latency = after.histogram('paddock_http_request_duration_seconds', tokenRoute('200'));
    const latencyBefore = before.histogram('paddock_http_request_duration_seconds', tokenRoute('200'));
    assert.equal(latency.count - latencyBefore.count, 8);
    assert.ok(latency.sum > latencyBefore.sum);
    // Labels carry route patterns only: nothing of the raw URL.
    for (const v of after.labelValues()) assert.doesNotMatch(v, /path-xyz|abc123|\?/);

    // Every transaction ran in exactly one group commit, and the store was timed.
    const tx = (s: Scrape) => s.histogram('paddock_store_duration_seconds', { operation: 'transaction' });
    const queries = (s: Scrape) => s.histogram('paddock_store_duration_seconds', { operation: 'query' });
    const batches = (s: Scrape) => s.histogram('paddock_sqlite_group_commit_size');
    const transactions = tx(after).count - tx(before).count;
    assert.ok(transactions >= 8, `${transactions} transactions`);
    assert.equal(batches(after).sum - batches(before).sum, transactions);
    assert.ok(batches(after).count - batches(before).count >= 1);
    assert.ok(queries(after).count - queries(before).count > 20);
    assert.ok(tx(after).sum > tx(before).sum);
  });
});

describe('the active-session gauge', () => {
  test('counts live sessions in the database at scrape time, cached for 5 seconds', async () => {
    const clock = new TestClock();
    const server = await startInProcess({ clock, name: 'metrics-sessions' });
    try {
      const sessions = async () => (await scrape(`${server.url}/metrics`)).value('paddock_active_sessions');
      assert.equal(await sessions(), 0);
      const h = await headless(server.ctx!.store);
      const tokens = [];
      for (let i = 0; i < 3; i++) tokens.push((await login(server, h)).body.refresh_token as string);
      assert.equal(await sessions(), 0, 'the count is cached');
      clock.advance(6);
      assert.equal(await sessions(), 3);
      // A detected reuse revokes its session.
      assert.equal((await refresh(server, h, tokens[0]!)).status, 200);
      assert.equal((await refresh(server, h, tokens[0]!)).status, 400);
      clock.advance(6);
      assert.equal(await sessions(), 2);
    } finally {
      await server.stop();
    }
  });
});

describe('/metrics on PostgreSQL', { skip: pgSkip }, () => {
  test('reports the pool: its size, open and idle connections, waiting queries; statement batches; no group commit', async () => {
    const db = await createPgDatabase();
    const server = await startInProcess({
      name: 'metrics-pg',
      env: { DATABASE_URL: db.url, PADDOCK_PG_POOL_SIZE: '4' },
    });
    try {
      const h = await headless(server.ctx!.store);
      const r = await login(server, h);
      assert.equal(r.status, 200);
      const s = await scrape(`${server.url}/metrics`);
      assert.equal(s.value('paddock_pg_pool_max_connections'), 4);
      const total = s.value('paddock_pg_pool_connections', { state: 'total' });
      const idle = s.value('paddock_pg_pool_connections', { state: 'idle' });
      assert.ok(total >= 1 && total <= 4, `total ${total}`);
      assert.ok(idle >= 0 && idle <= total, `idle ${idle}`);
      assert.equal(s.value('paddock_pg_pool_waiting'), 0);
      assert.ok(s.histogram('paddock_store_duration_seconds', { operation: 'transaction' }).count >= 1);
      assert.equal(s.value('paddock_active_sessions'), 1);
      assert.equal(s.family('paddock_sqlite_group_commit_size'), undefined);
      // The refresh's rotation went through the statement batcher, and was counted there.
      const rotated = await refresh(server, h, r.body.refresh_token);
      assert.equal(rotated.status, 200, rotated.text);
      const after = await scrape(`${server.url}/metrics`);
      const batches = after.histogram('paddock_pg_statement_batch_size', { statement: 'refresh_rotation' });
      assert.equal(batches.count, 1);
      assert.equal(batches.sum, 1);
    } finally {
      await server.stop();
      await db.drop();
    }
  });
});

// ---- several processes, one scrape

describe('aggregation across processes', () => {
  test("prom-client's aggregator sums two servers' counters and does not double the database-wide gauge", async () => {
    // Two servers on one data dir: two processes of one installation, as `--workers` runs them.
    const a = await startInProcess({ name: 'metrics-agg-a' });
    const b = await startInProcess({ name: 'metrics-agg-b', dataDir: a.dataDir });
    try {
      const h = await headless(a.ctx!.store);
      for (let i = 0; i < 2; i++) assert.equal((await login(a, h)).status, 200);
      for (let i = 0; i < 3; i++) assert.equal((await login(b, h)).status, 200);
      const reused = (await login(b, h)).body.refresh_token as string;
      assert.equal((await refresh(a, h, reused)).status, 200);
      assert.equal((await refresh(b, h, reused)).status, 400);

      const registries = [a, b].map((s) => s.ctx!.metrics.registry);
      const merged = AggregatorRegistry.aggregate(
        await Promise.all(registries.map((r) => r.getMetricsAsJSON())),
      );
      const all = parse(await merged.metrics());
      const each = await Promise.all([a, b].map((s) => scrape(`${s.url}/metrics`)));
      const success = { grant_type: 'password_limited', outcome: 'success' };
      assert.deepEqual(
        each.map((s) => s.value('paddock_grants_total', success)),
        [2, 4],
      );
      assert.equal(all.value('paddock_grants_total', success), 6);
      assert.equal(all.value('paddock_token_reuse_detected_total', { token_type: 'refresh_token' }), 1);
      const ok = { method: 'POST', route: '/oauth2/token', status: '200' };
      assert.equal(all.value('paddock_http_requests_total', ok), 7);
      assert.equal(all.histogram('paddock_http_request_duration_seconds', ok).count, 7);
      // Both processes count the same database: 6 sessions, one of them revoked by the reuse.
      assert.deepEqual(
        each.map((s) => s.value('paddock_active_sessions')),
        [5, 5],
      );
      assert.equal(all.value('paddock_active_sessions'), 5);
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  test('clusterMetrics() in a node:cluster primary reports every worker in one scrape', async () => {
    const fixture = path.join(REPO, 'packages/server/test/fixtures/cluster-metrics.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const code = await new Promise((r) => child.on('close', r));
    assert.equal(code, 0, err);
    const [contentType, ...body] = out.split('\n');
    assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const s = parse(body.join('\n'));
    assert.equal(s.value('paddock_grants_total', { grant_type: 'refresh_token', outcome: 'success' }), 3);
    assert.equal(s.value('paddock_locked_out_attempts_total', { via: 'sign_in' }), 2);
  });
});

// ---- the admin port

describe('PADDOCK_ADMIN_PORT', () => {
  test('moves /metrics off the public port to the admin listener, which also answers /healthz', async () => {
    const adminPort = await freePort();
    const server = await startProcess({
      name: 'metrics-admin',
      env: { PADDOCK_ADMIN_PORT: String(adminPort) },
    });
    try {
      const admin = `http://127.0.0.1:${adminPort}`;
      const hidden = await get(`${server.url}/metrics`);
      await assertBookError(server.issuer, hidden, 404, 'invalid_request', /no endpoint/);
      assert.equal((await get(`${server.url}/healthz`)).status, 200);

      const before = await scrape(`${admin}/metrics`);
      assert.equal((await get(`${admin}/healthz`)).status, 200);
      const r = await post(`${server.url}/oauth2/token`, {
        grant_type: 'refresh_token',
        client_id: 'nobody',
      });
      assert.equal(r.status, 403, r.text);
      const after = await scrape(`${admin}/metrics`);
      const labels = { grant_type: 'refresh_token', outcome: 'invalid_client' };
      assert.equal(
        after.value('paddock_grants_total', labels) - before.value('paddock_grants_total', labels),
        1,
      );
      assert.equal((await get(`${admin}/oauth2/token`)).status, 404, 'the admin listener serves no OAuth');
    } finally {
      await server.stop();
    }
  });

  test('an admin port equal to the main port is refused at start', async () => {
    const port = String(await freePort());
    const env = { PADDOCK_PORT: port, PADDOCK_ADMIN_PORT: port, PADDOCK_DATA_DIR: tmpDir() };
    const r = await cli(['serve'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /PADDOCK_ADMIN_PORT: must differ from the main port/);
  });
});
