// What an operator meets: the database goes away and comes back, the process is told to stop, a client
// never finishes its request, a load balancer asks whether the server is alive and ready. The server stays
// up, answers the book's 503 temporarily_unavailable (never a 500, never a hang), and loses no token it
// acknowledged.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openStore, sqliteFile } from '../src/store/index.ts';
import { type Headless, headless, login, refresh } from './fixtures.ts';
import { get, noteSecret, startInProcess, startProcess, type TestServer } from './helpers.ts';
import { pgClusterSkip, startPgCluster } from './pg-cluster.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The book's 503: its error object, with a Retry-After in whole seconds. */
function assertUnavailable(r: { status?: number; body?: any; headers: any }, what: string): void {
  assert.equal(r.status, 503, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body?.error, 'temporarily_unavailable', what);
  assert.equal(r.body?.status, 503, what);
  assert.equal(r.body?.status_reason, 'Service Unavailable', what);
  assert.ok(r.body?.error_uri, what);
  const retryAfter =
    typeof r.headers.get === 'function' ? r.headers.get('retry-after') : r.headers['retry-after'];
  assert.match(String(retryAfter), /^[1-9]\d*$/, `${what}: Retry-After`);
}

// ---- raw HTTP/1.1, for what fetch cannot do: stop half-way through a request

class RawConnection {
  readonly socket: net.Socket;
  data = '';
  closedAt: number | undefined;
  readonly closed: Promise<number>;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = net.connect(Number(port), hostname);
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d) => {
      this.data += d;
    });
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      this.socket.on('close', () => {
        this.closedAt = Date.now();
        resolve(this.closedAt);
      }),
    );
  }

  connected(): Promise<void> {
    return new Promise((resolve) => this.socket.once('connect', () => resolve()));
  }

  write(s: string): void {
    this.socket.write(s);
  }

  /** Waits until a whole response (headers and Content-Length bytes of body) has arrived. */
  async response(
    timeoutMs = 10_000,
  ): Promise<{ status: number; headers: Record<string, string>; body: any }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.data);
      if (parsed) return parsed;
      if (Date.now() > deadline || this.closedAt) {
        throw new Error(`no complete response; received ${JSON.stringify(this.data)}`);
      }
      await sleep(20);
    }
  }
}

function parseResponse(data: string) {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = data.slice(end + 4);
  if (Buffer.byteLength(body) < length) return undefined;
  let json: any;
  try {
    json = JSON.parse(body);
  } catch {}
  return { status: Number(statusLine!.split(' ')[1]), headers, body: json };
}

function refreshForm(h: Headless, token: string): string {
  return new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: h.clientId,
    client_secret: h.maskedSecret,
    refresh_token: token,
  }).toString();
}

// ---- keep-alive clients through node's http.Agent

interface Outcome {
  status?: number;
  body?: any;
  headers?: http.IncomingHttpHeaders;
  /** The error, if the exchange failed. */
  error?: string;
  /** True once the response's status line had arrived. */
  started: boolean;
  ms: number;
}

function exchange(
  agent: http.Agent,
  url: string,
  options: { method?: string; form?: string; headers?: Record<string, string> } = {},
): Promise<Outcome> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let started = false;
    const done = (o: Omit<Outcome, 'ms' | 'started'>) => resolve({ ...o, started, ms: Date.now() - t0 });
    const req = http.request(
      url,
      {
        agent,
        method: options.method ?? 'GET',
        headers: {
          ...options.headers,
          ...(options.form !== undefined
            ? {
                'content-type': 'application/x-www-form-urlencoded',
                'content-length': Buffer.byteLength(options.form),
              }
            : {}),
        },
      },
      (res) => {
        started = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('error', (e) => done({ status: res.statusCode, error: `response cut off: ${e.message}` }));
        res.on('aborted', () => done({ status: res.statusCode, error: 'response cut off (aborted)' }));
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            return done({
              status: res.statusCode,
              error: `incomplete or non-JSON body: ${text.slice(0, 200)}`,
            });
          }
          done({ status: res.statusCode, body, headers: res.headers });
        });
      },
    );
    req.on('error', (e) => done({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(options.form);
  });
}

// ---------------------------------------------------------------------------------------------------

describe('PostgreSQL stopped under load', { skip: pgClusterSkip }, () => {
  test('10 s without the database: the process stays up, answers only 503 temporarily_unavailable quickly, /readyz follows, and service resumes with every acknowledged token', async () => {
    const cluster = await startPgCluster();
    let server: Awaited<ReturnType<typeof startProcess>> | undefined;
    try {
      server = await startProcess({ name: 'pg-outage', env: { DATABASE_URL: cluster.url } });
      const store = await openStore(
        loadConfig({ DATABASE_URL: cluster.url, PADDOCK_DATA_DIR: server.dataDir }),
        nowSeconds(),
      );
      const users: Headless[] = [];
      for (let i = 0; i < 5; i++) users.push(await headless(store));
      await store.close();
      const srv = server;

      type Phase = 'before' | 'stopping' | 'down' | 'starting' | 'after';
      let phase: Phase = 'before';
      interface Seen {
        what: 'refresh' | 'profile' | 'readyz';
        from: Phase;
        to: Phase;
        status: number;
        body: any;
        headers: Headers;
        ms: number;
      }
      const seen: Seen[] = [];
      const call = async (what: Seen['what'], fn: () => Promise<Response>) => {
        const from = phase;
        const t0 = Date.now();
        let r: Response;
        try {
          r = await fn();
        } catch (err) {
          // No HTTP answer at all: the process died, or cut the connection.
          const s = { what, from, to: phase, status: 0, body: String(err), headers: new Headers(), ms: 0 };
          seen.push(s);
          return s;
        }
        const text = await r.text();
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {}
        const s = { what, from, to: phase, status: r.status, body, headers: r.headers, ms: Date.now() - t0 };
        seen.push(s);
        return s;
      };

      const chains: { h: Headless; token: string; access: string; okAfter: number }[] = [];
      for (const h of users) {
        const r = await login(srv, h, { scope: 'iracing.auth iracing.profile' });
        assert.equal(r.status, 200, r.text);
        chains.push({
          h,
          token: r.body.refresh_token as string,
          access: r.body.access_token as string,
          okAfter: 0,
        });
      }
      let stopLoad = false;
      const worker = async (c: (typeof chains)[number]) => {
        while (!stopLoad) {
          const r = await call('refresh', () =>
            fetch(`${srv.url}/oauth2/token`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: refreshForm(c.h, c.token),
            }),
          );
          if (r.status === 200) {
            // Acknowledged: from now on this is the token that must keep working.
            c.token = r.body.refresh_token;
            c.access = r.body.access_token;
            noteSecret(c.token, c.access);
            if (r.from === 'after') c.okAfter++;
          }
          await call('profile', () =>
            fetch(`${srv.url}/oauth2/iracing/profile`, { headers: { authorization: `Bearer ${c.access}` } }),
          );
          await sleep(r.status === 200 ? 5 : 150);
        }
      };
      let readyAfter = false;
      const readiness = async () => {
        while (!stopLoad) {
          const r = await call('readyz', () => fetch(`${srv.url}/readyz`));
          if (r.status === 200 && r.from === 'after') readyAfter = true;
          await sleep(250);
        }
      };
      const load = Promise.all([...chains.map(worker), readiness()]);
      await sleep(1500);
      // Hold the refresh transactions open (blocked on a lock) when the database stops, so the server is
      // sure to lose connections it has checked out: the case that killed the process (57P01).
      const locker = new pg.Client({ connectionString: cluster.url });
      locker.on('error', () => {});
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE refresh_tokens IN EXCLUSIVE MODE');
      await sleep(500);
      phase = 'stopping';
      await cluster.stop('fast');
      phase = 'down';
      await sleep(10_000);
      phase = 'starting';
      await cluster.start();
      phase = 'after';
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(readyAfter && chains.every((c) => c.okAfter >= 2))) await sleep(200);
      stopLoad = true;
      await load;

      assert.equal(srv.child.exitCode, null, `the server process exited: ${srv.output().slice(-2000)}`);
      for (const s of seen) {
        assert.ok(s.ms < 6000, `${s.what} took ${s.ms} ms (${s.from} → ${s.to})`);
        if (s.status === 503) {
          if (s.what === 'readyz') assert.equal(s.body?.status, 'unavailable', JSON.stringify(s.body));
          else assertUnavailable(s, `${s.what} during ${s.from}`);
        } else {
          assert.equal(
            s.status,
            200,
            `${s.what} (${s.from} → ${s.to}): ${s.status} ${JSON.stringify(s.body)}`,
          );
        }
      }
      const during = seen.filter((s) => s.from === 'down' && s.to === 'down');
      for (const what of ['refresh', 'profile', 'readyz'] as const) {
        const mine = during.filter((s) => s.what === what);
        assert.ok(mine.length >= 2, `${what} was exercised during the outage`);
        assert.ok(
          mine.every((s) => s.status === 503),
          `${what} during the outage: ${mine.map((s) => s.status)}`,
        );
        assert.ok(
          seen.some((s) => s.what === what && s.from === 'before' && s.status === 200),
          `${what} worked before the outage`,
        );
      }
      assert.ok(readyAfter, '/readyz says 200 again once the database is back');
      for (const c of chains) assert.ok(c.okAfter >= 2, 'refreshes succeed again without a restart');
      // Every chain's last acknowledged token works, once.
      for (const c of chains) {
        const r = await refresh(srv, c.h, c.token);
        assert.equal(r.status, 200, r.text);
        const again = await refresh(srv, c.h, c.token);
        assert.equal(again.body.error, 'invalid_grant');
      }
      assert.equal(srv.child.exitCode, null);
    } finally {
      await server?.stop();
      await cluster.destroy();
    }
  });
});

describe('SQLite locked by another process', () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({ name: 'sqlite-busy', env: { PADDOCK_STORE_TIMEOUT: '1' } });
  });
  after(() => server.stop());

  test('a write that cannot get the lock within PADDOCK_STORE_TIMEOUT answers 503 temporarily_unavailable, and nothing is consumed', async () => {
    const h = await headless(server.ctx!.store);
    const first = await login(server, h);
    assert.equal(first.status, 200, first.text);
    const other = new Database(sqliteFile(loadConfig({ PADDOCK_DATA_DIR: server.dataDir })));
    other.exec('BEGIN IMMEDIATE');
    let r: Awaited<ReturnType<typeof refresh>>;
    const t0 = Date.now();
    try {
      r = await refresh(server, h, first.body.refresh_token);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const ms = Date.now() - t0;
    assertUnavailable(r, 'refresh while another process holds the write lock');
    assert.ok(ms < 3000, `answered after ${ms} ms`);
    // The refused request consumed nothing: the same token works once the lock is free.
    assert.equal((await refresh(server, h, first.body.refresh_token)).status, 200);
  });
});

describe('health and readiness', () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({ name: 'readyz', env: { PADDOCK_ISSUER: 'https://id.example.com/auth' } });
  });
  after(() => server.stop());

  test('/healthz and /readyz answer below the issuer path, without caching', async () => {
    const live = await get(`${server.url}/auth/healthz`);
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { status: 'ok' });
    const ready = await get(`${server.url}/auth/readyz`);
    assert.equal(ready.status, 200, ready.text);
    assert.equal(ready.body.status, 'ready');
    assert.equal(ready.headers.get('cache-control'), 'no-store');
    assert.equal((await get(`${server.url}/readyz`)).status, 404);
  });

  test('/readyz says 503 with a reason while a migration is not applied', async () => {
    const db = server.ctx!.store.db;
    const [last] = await db.all<{ version: number; name: string; applied_at: number }>(
      'SELECT version, name, applied_at FROM schema_migrations ORDER BY version DESC LIMIT 1',
    );
    await db.run('DELETE FROM schema_migrations WHERE version = ?', [last!.version]);
    try {
      const r = await get(`${server.url}/auth/readyz`);
      assert.equal(r.status, 503, r.text);
      assert.equal(r.body.status, 'unavailable');
      assert.match(r.body.reason, /migration/);
    } finally {
      await db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        last!.version,
        last!.name,
        last!.applied_at,
      ]);
    }
    assert.equal((await get(`${server.url}/auth/readyz`)).status, 200);
  });

  test('/readyz says 503 with a reason when no signing key is active', async () => {
    const { store, keys } = server.ctx!;
    for (const k of await store.signingKeys.list()) await store.signingKeys.retire(k.kid, nowSeconds());
    await keys.reload();
    const r = await get(`${server.url}/auth/readyz`);
    assert.equal(r.status, 503, r.text);
    assert.match(r.body.reason, /signing key/);
    // Liveness does not depend on it.
    assert.equal((await get(`${server.url}/auth/healthz`)).status, 200);
  });
});

describe('logs of failures', () => {
  test('a 500 is logged with the class of the error, not "Object"', async () => {
    const server = await startInProcess({ name: 'error-class' });
    try {
      const h = await headless(server.ctx!.store);
      // A broken schema is a fault of the server, not of the client: a 500 whose cause the log must name.
      const raw = new Database(sqliteFile(loadConfig({ PADDOCK_DATA_DIR: server.dataDir })));
      raw.exec('DROP TABLE rate_counters');
      raw.close();
      const r = await login(server, h);
      assert.equal(r.status, 500, r.text);
      assert.equal(r.body.error, 'server_error');
      assert.ok(!r.text.includes('rate_counters'), 'no internals in the response');
      await sleep(100);
      const id = r.headers.get('x-request-id');
      const line = fs
        .readFileSync(server.logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((l) => l.request_id === id && l.err);
      assert.ok(line, 'the failure is logged with its request id');
      assert.equal(line.level, 50);
      assert.equal(line.err.type, 'SqliteError');
      assert.match(line.err.message, /rate_counters/);
      assert.ok(line.err.stack);
    } finally {
      await server.stop();
    }
  });
});

describe('slow clients', () => {
  let server: TestServer;
  before(async () => {
    server = await startInProcess({
      name: 'slow-clients',
      env: { PADDOCK_REQUEST_TIMEOUT: '2', PADDOCK_HEADERS_TIMEOUT: '1' },
    });
  });
  after(() => server.stop());

  test('a POST that declares Content-Length: 5 and never sends it is dropped within PADDOCK_REQUEST_TIMEOUT', async () => {
    const c = new RawConnection(server.url);
    await c.connected();
    const t0 = Date.now();
    c.write(
      'POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\n\r\n',
    );
    const closedAt = await Promise.race([c.closed, sleep(8000).then(() => undefined)]);
    c.socket.destroy();
    assert.ok(closedAt, 'the connection is still open 8 s later');
    const ms = closedAt - t0;
    assert.ok(ms >= 1500 && ms < 4500, `dropped after ${ms} ms (timeout 2 s)`);
    // With the book's error object, not Node's or Fastify's.
    const r = parseResponse(c.data);
    assert.equal(r?.status, 408, c.data);
    assert.equal(r.body.error, 'invalid_request');
    assert.equal(r.body.status, 408);
    assert.equal(r.body.status_reason, 'Request Timeout');
  });

  test('a client that never finishes its headers is dropped within PADDOCK_HEADERS_TIMEOUT', async () => {
    const c = new RawConnection(server.url);
    await c.connected();
    const t0 = Date.now();
    c.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const closedAt = await Promise.race([c.closed, sleep(8000).then(() => undefined)]);
    c.socket.destroy();
    assert.ok(closedAt, 'the connection is still open 8 s later');
    assert.ok(closedAt - t0 < 3500, `dropped after ${closedAt - t0} ms (timeout 1 s)`);
    assert.equal(parseResponse(c.data)?.body.error, 'invalid_request', c.data);
  });

  test('a connection that never sends a byte is dropped too', async () => {
    const c = new RawConnection(server.url);
    await c.connected();
    const t0 = Date.now();
    const closedAt = await Promise.race([c.closed, sleep(8000).then(() => undefined)]);
    c.socket.destroy();
    assert.ok(closedAt, 'the connection is still open 8 s later');
    assert.ok(closedAt - t0 < 3500, `dropped after ${closedAt - t0} ms`);
  });

  test("bytes that are not HTTP get the book's error object", async () => {
    const c = new RawConnection(server.url);
    await c.connected();
    c.write('HELLO THERE\r\n\r\n');
    await c.closed;
    const r = parseResponse(c.data);
    assert.equal(r?.status, 400, c.data);
    assert.equal(r.body.error, 'invalid_request');
  });
});

describe('SIGTERM', () => {
  test('under load with keep-alive clients: in-flight requests finish with Connection: close, late ones get the book 503, idle connections close, exit 0 quickly, no acknowledged token lost', async () => {
    // A keep-alive timeout far beyond the test: only the shutdown itself may close idle connections.
    const server = await startProcess({ name: 'sigterm', env: { PADDOCK_KEEP_ALIVE_TIMEOUT: '120' } });
    const store = await openStore(loadConfig({ PADDOCK_DATA_DIR: server.dataDir }), nowSeconds());
    const users: Headless[] = [];
    for (let i = 0; i < 4; i++) users.push(await headless(store));
    await store.close();
    const chains: { h: Headless; token: string }[] = [];
    for (const h of users) {
      const r = await login(server, h);
      assert.equal(r.status, 200, r.text);
      chains.push({ h, token: r.body.refresh_token as string });
    }
    const [inflight, ...loaded] = chains;

    // An idle keep-alive connection, one whose request is half-sent (headers), one whose body is half-sent.
    const idle = new RawConnection(server.url);
    await idle.connected();
    idle.write('GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.equal((await idle.response()).status, 200);
    const lateHeaders = new RawConnection(server.url);
    await lateHeaders.connected();
    lateHeaders.write('GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const body = refreshForm(inflight!.h, inflight!.token);
    const halfBody = new RawConnection(server.url);
    await halfBody.connected();
    halfBody.write(
      `POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`,
    );

    const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
    const outcomes: Outcome[] = [];
    let sent = 0;
    let running = true;
    let onDispatch = () => {};
    const worker = async (c: (typeof chains)[number]) => {
      while (running) {
        const pending = exchange(agent, `${server.url}/oauth2/token`, {
          method: 'POST',
          form: refreshForm(c.h, c.token),
        });
        onDispatch();
        const o = await pending;
        sent++;
        outcomes.push(o);
        if (o.status === 200) {
          c.token = o.body.refresh_token;
          noteSecret(o.body.refresh_token, o.body.access_token);
        }
        if (o.error && !o.started) break; // the server has stopped listening
        const j = await exchange(agent, `${server.url}/.well-known/jwks.json`);
        outcomes.push(j);
        if (j.error && !j.started) break;
        await sleep(5);
      }
    };
    const load = Promise.all(loaded.map(worker));
    while (sent < 10) await sleep(20);
    // Signal while refreshes are being processed, not between them.
    await new Promise<void>((resolve) => {
      onDispatch = resolve;
    });
    await sleep(5);

    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      server.child.once('exit', (code) => resolve({ code, at: Date.now() })),
    );
    const t0 = Date.now();
    server.child.kill('SIGTERM');
    await sleep(300);
    lateHeaders.write('\r\n');
    halfBody.write(body.slice(20));
    const [late, finished] = await Promise.all([lateHeaders.response(), halfBody.response()]);
    const { code, at } = await Promise.race([
      exited,
      sleep(15_000).then(() => ({ code: -1, at: Date.now() })),
    ]);
    running = false;
    await load;
    agent.destroy();

    assert.equal(code, 0, `exit code (output: ${server.output().slice(-2000)})`);
    assert.ok(at - t0 < 5000, `exited ${at - t0} ms after SIGTERM (keep-alive timeout 120 s, bound 10 s)`);
    // The request in flight at SIGTERM completes normally, and the server closes its connection.
    assert.equal(finished.status, 200, JSON.stringify(finished.body));
    assert.ok(finished.body.refresh_token);
    noteSecret(finished.body.refresh_token, finished.body.access_token);
    assert.equal(finished.headers.connection, 'close');
    // A request that arrived during the shutdown gets the book's error object, not Fastify's.
    assertUnavailable(late, 'a request arriving during shutdown');
    assert.equal(late.headers.connection, 'close');
    assert.ok(late.headers['x-request-id']);
    // The idle keep-alive connection was closed by the shutdown, not by its timeout.
    assert.ok(idle.closedAt && idle.closedAt - t0 < 2000, 'the idle keep-alive connection was closed');
    for (const c of [lateHeaders, halfBody]) assert.ok(c.closedAt, 'the server closed the connection');

    // No response was cut off: each request that got a status line got a whole response, a normal answer
    // or the book's 503. A request that never got a status line found no listener (or lost the race with
    // an idle connection being closed), which any HTTP client must expect.
    assert.ok(outcomes.length >= 20, `${outcomes.length} requests`);
    for (const o of outcomes) {
      if (!o.started) {
        assert.match(String(o.error), /^(ECONNREFUSED|ECONNRESET|EPIPE|socket hang up)$/, String(o.error));
        continue;
      }
      assert.equal(o.error, undefined, o.error);
      if (o.status === 503) assertUnavailable(o as any, 'a request answered during shutdown');
      else assert.equal(o.status, 200, JSON.stringify(o.body));
    }
    assert.ok(outcomes.filter((o) => o.status === 200).length >= 10);

    // Every acknowledged refresh token survives the stop.
    const again = await startProcess({ name: 'sigterm-2', dataDir: server.dataDir });
    try {
      for (const c of [...loaded, { h: inflight!.h, token: finished.body.refresh_token as string }]) {
        const r = await refresh(again, c.h, c.token);
        assert.equal(r.status, 200, r.text);
      }
    } finally {
      await again.stop();
    }
  });

  test('past PADDOCK_SHUTDOWN_TIMEOUT, remaining connections are cut and the process exits 1 (SIGINT too)', async () => {
    const server = await startProcess({
      name: 'shutdown-bound',
      env: { PADDOCK_SHUTDOWN_TIMEOUT: '2', PADDOCK_REQUEST_TIMEOUT: '60', PADDOCK_HEADERS_TIMEOUT: '60' },
    });
    const stuck = new RawConnection(server.url);
    await stuck.connected();
    stuck.write(
      'POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 50\r\n\r\ngrant_type=',
    );
    await sleep(200);
    const t0 = Date.now();
    const exited = new Promise<number | null>((resolve) =>
      server.child.once('exit', (code) => resolve(code)),
    );
    server.child.kill('SIGINT');
    const code = await Promise.race([exited, sleep(10_000).then(() => -1)]);
    const ms = Date.now() - t0;
    await server.stop();
    assert.equal(code, 1, `exit code (output: ${server.output().slice(-1500)})`);
    assert.ok(ms >= 1800 && ms < 5000, `exited ${ms} ms after SIGINT (bound 2 s)`);
    assert.ok(stuck.closedAt, 'the stuck connection was closed');
    assert.match(server.output(), /shutdown/i);
  });
});
