// `paddock serve --workers N`: the rules that must hold across requests hold across processes. With 2
// and 4 workers on one port, on SQLite and on PostgreSQL: one refresh token raced through every worker
// gives exactly one 200 and the reuse revokes the session; password_limited failures lock the user out
// counted over all workers; a `paddock clients disable` is seen by every worker within a second; and
// kill -9 of the whole server during a refresh load loses no token that was in a 200 response.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { mask } from '../src/oauth/masking.ts';
import { openStore } from '../src/store/index.ts';
import type { Store } from '../src/store/store.ts';
import { type Headless, headless, passwordForm } from './fixtures.ts';
import {
  cliOk,
  createPgDatabase,
  decodeJwt,
  freePort,
  LOG_DIR,
  noteSecret,
  PADDOCK,
  pgSkip,
  tmpDir,
} from './helpers.ts';

const now = () => Math.floor(Date.now() / 1000);

interface Answer {
  status: number;
  body: any;
}

/** One POST on a connection of its own, so the cluster hands each request to the next worker. */
function postFresh(url: string, form: Record<string, string>): Promise<Answer> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          connection: 'close',
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `paddock serve --workers N` in a process group of its own, so kill -9 can reach every process. */
class Cluster {
  child!: ChildProcess;
  url = '';
  logFile = '';
  constructor(
    readonly env: Record<string, string>,
    readonly workers: number,
  ) {}

  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    this.logFile = path.join(LOG_DIR, `workers-${process.pid}-${port}.log`);
    fs.mkdirSync(LOG_DIR, { recursive: true });
    const out = fs.openSync(this.logFile, 'w');
    this.child = spawn(process.execPath, [...PADDOCK, 'serve', '--workers', String(this.workers)], {
      env: { ...process.env, ...this.env, PADDOCK_PORT: String(port) },
      stdio: ['ignore', out, out],
      detached: true,
    });
    fs.closeSync(out);
    const deadline = Date.now() + 90_000;
    // Ready when the primary says every worker listens.
    while (!fs.readFileSync(this.logFile, 'utf8').includes('serving with workers')) {
      if (this.child.exitCode !== null) throw new Error(`serve exited: ${this.output()}`);
      if (Date.now() > deadline) throw new Error(`serve did not start: ${this.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  output(): string {
    return fs.readFileSync(this.logFile, 'utf8');
  }

  /**
   * What each worker said it serves from, as it started (in the order they started). A worker says so
   * once it listens, which can be just after the primary has said that every worker listens: this waits
   * up to 5 s for every worker's line.
   */
  async stores(): Promise<Record<string, unknown>[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const said = this.output()
        .split('\n')
        .filter((line) => line.includes('"serving from this store"'))
        .map((line) => {
          const { store, file, host, port, database } = JSON.parse(line);
          const fields = { store, file, host, port, database };
          return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
        });
      if (said.length >= this.workers || Date.now() > deadline) return said;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Worker pids that answered a token request whose request id is in `ids`, or any when omitted. */
  tokenPids(): Set<number> {
    const pids = new Set<number>();
    for (const line of this.output().split('\n')) {
      if (!line.includes('"/oauth2/token"')) continue;
      try {
        pids.add(JSON.parse(line).pid);
      } catch {}
    }
    return pids;
  }

  /** SIGTERM to the primary: resolves with its exit code once it is gone. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill9(), 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /** kill -9 of the primary and every worker at once. */
  async kill9(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {}
    await exited;
  }
}

async function login(c: Cluster, h: Headless): Promise<Answer> {
  const r = await postFresh(`${c.url}/oauth2/token`, passwordForm(h));
  if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
  return r;
}

async function refresh(url: string, h: Headless, token: string): Promise<Answer> {
  const r = await postFresh(`${url}/oauth2/token`, {
    grant_type: 'refresh_token',
    client_id: h.clientId,
    client_secret: h.maskedSecret,
    refresh_token: token,
  });
  if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
  return r;
}

const ENV = {
  PADDOCK_LOG_LEVEL: 'info',
  PADDOCK_LOCKOUT_THRESHOLD: '5',
  PADDOCK_PASSWORD_LIMITED_LIMIT: '1000',
  PADDOCK_PASSWORD_LIMITED_IP_LIMIT: '1000',
};

// The two stores side by side: each block starts its own servers, and the file stays short.
describe('workers', { concurrency: 2 }, () => {
  for (const backend of ['sqlite', 'postgres'] as const) {
    describe(`on ${backend}`, { skip: backend === 'postgres' && pgSkip, concurrency: 1 }, () => {
      for (const workers of [2, 4]) {
        describe(`${workers} workers`, { timeout: 150_000, concurrency: 1 }, () => {
          let cluster: Cluster;
          let store: Store;
          let drop: (() => Promise<void>) | undefined;
          let env: Record<string, string>;

          before(async () => {
            env = { ...ENV, PADDOCK_DATA_DIR: tmpDir() };
            if (backend === 'postgres') {
              const db = await createPgDatabase();
              env.DATABASE_URL = db.url;
              drop = db.drop;
            }
            cluster = new Cluster(env, workers);
            await cluster.start();
            store = await openStore(loadConfig(env), now());
          });
          after(async () => {
            await cluster.stop();
            await store.close();
            await drop?.();
          });

          test('one refresh token raced through every worker: exactly one 200, and the reuse revokes the session', async () => {
            // Every worker serves from the database the test set up, the one its store writes to.
            const db = backend === 'postgres' ? new URL(env.DATABASE_URL!) : undefined;
            const expected = db
              ? {
                  store: 'postgres',
                  host: db.hostname,
                  port: Number(db.port || 5432),
                  database: db.pathname.slice(1),
                }
              : { store: 'sqlite', file: path.join(env.PADDOCK_DATA_DIR!, 'paddock.db') };
            assert.deepEqual(
              await cluster.stores(),
              Array.from({ length: workers }, () => expected),
            );
            const h = await headless(store);
            const first = await login(cluster, h);
            assert.equal(
              first.status,
              200,
              `${JSON.stringify(first.body)}\n${cluster.output().slice(-3000)}`,
            );
            const sessionId = decodeJwt(first.body.access_token).payload.session_id;
            const results = await Promise.all(
              Array.from({ length: 40 }, () => refresh(cluster.url, h, first.body.refresh_token)),
            );
            const ok = results.filter((r) => r.status === 200);
            assert.equal(ok.length, 1, `statuses: ${results.map((r) => r.status).join(',')}`);
            assert.ok(results.every((r) => r.status === 200 || r.body?.error === 'invalid_grant'));
            assert.ok((await store.getSession(sessionId))?.revoked_at, 'the reuse revoked the session');
            const late = await refresh(cluster.url, h, ok[0]!.body.refresh_token);
            assert.equal(late.body.error, 'invalid_grant', 'the winner died with the session');
            assert.equal(cluster.tokenPids().size, workers, 'every worker answered some of the race');
          });

          test('password_limited failures lock the user out, counted over all workers', async () => {
            const h = await headless(store);
            // The threshold (5) in wrong passwords, spread over the workers: no worker sees five of them.
            const wrong = await Promise.all(
              Array.from({ length: 5 }, (_, i) =>
                postFresh(
                  `${cluster.url}/oauth2/token`,
                  passwordForm(h, { password: mask(`wrong-${i}`, h.username) }),
                ),
              ),
            );
            assert.ok(
              wrong.every((r) => r.status === 401 || r.status === 400),
              JSON.stringify(wrong),
            );
            // The right password, through every worker: locked out everywhere.
            const right = await Promise.all(Array.from({ length: 2 * workers }, () => login(cluster, h)));
            for (const r of right) {
              assert.equal(r.status, 400, JSON.stringify(r.body));
              assert.equal(r.body.error, 'unauthorized_client');
              assert.match(r.body.error_description, /locked/);
            }
          });

          // Shown once per store, with 2 workers: each worker start costs seconds, and the file must stay short.
          test('paddock clients disable is seen by every worker within a second', {
            skip: workers !== 2,
          }, async () => {
            const h = await headless(store);
            const session = await login(cluster, h);
            assert.equal(session.status, 200);
            // Every worker has served this client (and could have cached it).
            const before = await Promise.all(Array.from({ length: 2 * workers }, () => login(cluster, h)));
            assert.ok(before.every((r) => r.status === 200));
            await cliOk(['clients', 'disable', h.clientId], { env });
            const disabledAt = Date.now();
            await new Promise((r) => setTimeout(r, Math.max(0, disabledAt + 1000 - Date.now())));
            const pidsBefore = cluster.output().split('\n').length;
            const after = await Promise.all([
              ...Array.from({ length: 2 * workers }, () => login(cluster, h)),
              ...Array.from({ length: 2 * workers }, () =>
                refresh(cluster.url, h, session.body.refresh_token),
              ),
            ]);
            for (const r of after) {
              assert.equal(r.status, 401, JSON.stringify(r.body));
              assert.equal(r.body.error, 'unauthorized_client');
            }
            const pids = new Set(
              cluster
                .output()
                .split('\n')
                .slice(pidsBefore - 1)
                .filter((l) => l.includes('"/oauth2/token"'))
                .map((l) => JSON.parse(l).pid),
            );
            assert.equal(pids.size, workers, 'every worker refused some');
          });

          if (workers === 2) {
            test('kill -9 of the server during a refresh load, then restart: every token in a 200 works once', async () => {
              const h = await headless(store);
              // Chains of rotations of different lengths: the short ones end (their last token kept,
              // never sent again) while the long ones still run when the server is killed.
              const chains = 12;
              const sessions: Answer[] = [];
              while (sessions.length < chains) {
                const batch = await Promise.all(Array.from({ length: 4 }, () => login(cluster, h)));
                for (const s of batch) assert.equal(s.status, 200, JSON.stringify(s.body));
                sessions.push(...batch);
              }
              const last: string[] = sessions.map((s) => s.body.refresh_token);
              const finished = new Set<number>();
              let killed = false;
              const run = async (i: number) => {
                for (let n = 0; n < 2 + i * 3; n++) {
                  const r = await refresh(cluster.url, h, last[i]!).catch(() => undefined);
                  if (!r) return;
                  assert.equal(r.status, 200, JSON.stringify(r.body));
                  last[i] = r.body.refresh_token;
                  if (killed) return;
                }
                finished.add(i);
              };
              let settled = false;
              const load = Promise.all(Array.from({ length: chains }, (_, i) => run(i))).finally(() => {
                settled = true;
              });
              while (finished.size < 4 && !settled) await new Promise((r) => setTimeout(r, 5));
              killed = true;
              await cluster.kill9();
              await load;
              assert.ok(finished.size < chains, 'the server was killed while chains were still rotating');

              await cluster.start();
              const results = await Promise.all(last.map((t) => refresh(cluster.url, h, t)));
              results.forEach((r, i) => {
                if (finished.has(i)) assert.equal(r.status, 200, `chain ${i}: ${JSON.stringify(r.body)}`);
                // A chain cut mid-request may have had its last token spent by the rotation never answered.
                else assert.ok(r.status === 200 || r.body?.error === 'invalid_grant', JSON.stringify(r.body));
              });
              // Once: the same tokens again are reuse.
              for (const i of finished) {
                const again = await refresh(cluster.url, h, last[i]!);
                assert.equal(again.body.error, 'invalid_grant');
              }
            });
          }

          test('SIGTERM to the primary drains every worker and exits 0', async () => {
            assert.equal(await cluster.stop(), 0, cluster.output().slice(-2000));
          });
        });
      }
    });
  }
});
