// Paddock as a benchmark target: starts a fresh Paddock (embedded SQLite store, fresh temp data
// dir, started exactly as `paddock serve`) as a child process on 127.0.0.1, plus the benchmark's
// minter (bench/lib/minter.mjs: a second process on the same store that mints refresh tokens
// through the server's own session code), and exposes them in the shape the peer harness
// (the directory in PADDOCK_PEER_HARNESS, `--targets=...`) expects:
//
//   { name, baseUrl, pid, tokenPath, jwksPath, jwt, clientAuth(kind), reset(), mintRefreshTokens(kind, n),
//     mintCodes(kind, n), sanity({ postToken }), stop() }
//
// bench/run.mjs uses the same module for its own runs, so both measure the same server setup.
// Only loopback, only child processes this module started, stopped by PID (SIGTERM, then SIGKILL).
import { fork, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..');
const CLI = join(REPO_ROOT, 'packages/server/bin/paddock.mjs');
const WATCHDOG = join(HERE, 'lib/watchdog.mjs');
const MINTER = join(HERE, 'lib/minter.mjs');

const CLIENT_ID = 'bench-confidential';
const PUBLIC_CLIENT_ID = 'bench-public';
// The peer harness's redirect URIs: a web client, and a native app's loopback redirect.
const CONFIDENTIAL_REDIRECT = 'https://client.bench.test/cb';
const PUBLIC_REDIRECT = 'http://127.0.0.1:0/cb'; // the native form: any loopback port
// --pg: the server's database is created here (and dropped on stop) on this PostgreSQL.
export const PG_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const USERNAME = 'bench@example.com';
const MINT_CHUNK = 2000;

/** The book's masking: base64(sha256(secret + id.trim().toLowerCase())), standard base64 with padding. */
export function maskSecret(secret, id) {
  return createHash('sha256')
    .update(secret + id.trim().toLowerCase(), 'utf8')
    .digest('base64');
}

// The server's environment: ours, minus anything that would change its configuration (a
// DATABASE_URL would switch it to PostgreSQL; PADDOCK_* from the caller's shell), plus the given
// settings. Logging at warn: per-request info logs would dominate the measurement.
function serverEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('PADDOCK_') || k === 'DATABASE_URL') continue;
    env[k] = v;
  }
  return { ...env, PADDOCK_LOG_LEVEL: 'warn', ...extra };
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

// Runs one `paddock` CLI command to completion (bounded), returns stdout.
function cli(args, { env, input, timeoutMs = 60_000, bin = CLI }) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolveRun(out);
      else
        reject(
          new Error(
            `paddock ${args.slice(0, 2).join(' ')} failed (${signal ?? `exit ${code}`}): ${err.trim() || out.trim()}`,
          ),
        );
    });
    child.stdin.end(input ?? '');
  });
}

// Keeps the last `max` characters written to a stream, for error reports.
function tail(stream, max = 64 * 1024) {
  let buf = '';
  stream.on('data', (d) => {
    buf += d;
    if (buf.length > max * 2) buf = buf.slice(-max);
  });
  return () => buf.slice(-max);
}

// Servers (and their data dirs) still live when this process exits, e.g. when the peer harness is
// stopped by a signal: kill them and remove their data dirs (synchronously, as 'exit' requires).
const live = new Map(); // child -> data dir
const liveMinters = new Set();
process.on('exit', () => {
  for (const child of liveMinters) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const [child, dir] of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});

/**
 * Starts Paddock and returns the target.
 * @param {object} [opts]
 * @param {(msg: string) => void} [opts.log]
 * @param {Record<string,string>} [opts.env]  extra server environment (e.g. PADDOCK_SQLITE_SYNCHRONOUS)
 * @param {boolean} [opts.pg]       run on a fresh PostgreSQL database (created here, dropped on stop)
 * @param {string} [opts.name]      the target's name in tables (default paddock, paddock-pg with pg)
 * @param {string[]} [opts.nodeArgs] extra node flags for the server (e.g. --cpu-prof)
 * @param {number} [opts.workers]  `paddock serve --workers N` (default: the server's own, one per core)
 * @param {string} [opts.cli]      another build's bin/paddock.mjs to run (e.g. an older commit's, for a
 *                                 before/after comparison); the minter still uses this checkout's modules
 */
export async function createTarget(opts = {}) {
  const log = opts.log || ((m) => console.error(`[paddock-target] ${m}`));
  const bin = opts.cli ? resolve(opts.cli) : CLI;
  const dataDir = mkdtempSync(join(tmpdir(), 'paddock-bench-'));
  let database;
  let child;
  let minter;
  let env;
  try {
    if (opts.pg) database = await createDatabase();
    env = serverEnv({ ...(opts.env || {}), ...(database ? { DATABASE_URL: database.url } : {}) });
    // The client and user, through the CLI, on the same data dir, before the server starts.
    const password = randomBytes(18).toString('base64url');
    await cli(
      [
        'users',
        'add',
        USERNAME,
        '--name',
        'Bench',
        '--cust-id',
        '1',
        '--password-stdin',
        '--data-dir',
        dataDir,
      ],
      { env, input: password, bin },
    );
    const clientJson = await cli(
      [
        'clients',
        'add',
        CLIENT_ID,
        '--name',
        'Bench',
        '--grant',
        'password_limited',
        '--grant',
        'authorization_code',
        '--grant',
        'refresh_token',
        '--redirect-uri',
        CONFIDENTIAL_REDIRECT,
        '--json',
        '--data-dir',
        dataDir,
      ],
      { env, bin },
    );
    await cli(
      [
        'clients',
        'add',
        PUBLIC_CLIENT_ID,
        '--name',
        'Bench native app',
        '--type',
        'public',
        '--grant',
        'authorization_code',
        '--grant',
        'refresh_token',
        '--redirect-uri',
        PUBLIC_REDIRECT,
        '--json',
        '--data-dir',
        dataDir,
      ],
      { env, bin },
    );
    const clientSecret = JSON.parse(clientJson).client_secret;
    if (!clientSecret) throw new Error(`clients add printed no client_secret: ${clientJson}`);
    const maskedSecret = maskSecret(clientSecret, CLIENT_ID);

    // The server, on a free loopback port (retried if someone takes the port in between).
    let port;
    let stdoutTail;
    let stderrTail;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      child = spawn(
        process.execPath,
        [
          ...(opts.nodeArgs || []),
          '--import',
          WATCHDOG,
          bin,
          'serve',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--data-dir',
          dataDir,
          ...(opts.workers ? ['--workers', String(opts.workers)] : []),
        ],
        // stdin stays a pipe: the watchdog stops the server when it closes (i.e. when we are gone).
        { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      live.set(child, dataDir);
      stdoutTail = tail(child.stdout);
      stderrTail = tail(child.stderr);
      const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
      const up = await waitHealthy(`http://127.0.0.1:${port}/healthz`, exited, 30_000);
      if (up === true) break;
      live.delete(child);
      const out = `${stderrTail()}${stdoutTail()}`.trim();
      if (up === 'exited' && /EADDRINUSE|listening there/.test(out) && attempt < 3) continue;
      if (up !== 'exited') await killChild(child);
      child = undefined;
      throw new Error(`Paddock did not come up (${up}):\n${out}`);
    }
    const baseUrl = `http://127.0.0.1:${port}`;
    const server = child;
    log(`Paddock pid ${server.pid} at ${baseUrl}, data dir ${dataDir}`);

    minter = await startMinter({ dataDir, port, env });
    const mint = minter;
    log(`minter pid ${mint.pid} on the same store`);

    const enc = encodeURIComponent;
    let stopping;
    const chunked = async (op, kind, n) => {
      const out = [];
      while (out.length < n) {
        const { items } = await mint.call({ op, client: kind, n: Math.min(MINT_CHUNK, n - out.length) });
        if (!items?.length) throw new Error('the minter returned no items');
        for (const it of items) out.push(it);
      }
      return out;
    };
    const target = {
      name: opts.name || `${database ? 'paddock-pg' : 'paddock'}${opts.workers ? `-w${opts.workers}` : ''}`,
      workers: opts.workers,
      store: database ? 'postgresql' : 'sqlite',
      baseUrl,
      pid: server.pid,
      dataDir,
      tokenPath: '/oauth2/token',
      jwksPath: '/.well-known/jwks.json',
      // Scenario C of the peer harness reads audience and typ from a real token when absent.
      jwt: { issuer: baseUrl, audience: 'oauth-api' },
      clientId: CLIENT_ID,
      /** Paddock requires the masked client secret (client_secret_post, masked with the client_id). */
      clientAuth(kind) {
        if (kind === 'public') return `client_id=${enc(PUBLIC_CLIENT_ID)}`;
        return `client_id=${enc(CLIENT_ID)}&client_secret=${enc(maskedSecret)}`;
      },
      async reset() {
        await mint.call({ op: 'reset' });
      },
      mintRefreshTokens(kind, n) {
        return chunked('mint', kind, n);
      },
      /** Codes with a PKCE S256 challenge: [{ code, code_verifier, redirect_uri }]. */
      mintCodes(kind, n) {
        return chunked('mint-codes', kind, n);
      },
      /** Access tokens (scope iracing.auth iracing.profile) of fresh sessions, for the bearer call. */
      mintAccessTokens(kind, n) {
        return chunked('mint-access', kind, n);
      },
      // The bearer call the peer harness measures beside its own resource-server row (patched in by
      // bench/lib/peer.mjs): Paddock's profile endpoint, which verifies the JWT and reads the session
      // and the user from the store on every call.
      bearer: {
        path: '/oauth2/iracing/profile',
        label: 'C: bearer call GET /oauth2/iracing/profile (JWT + session + user)',
        tokens: (n) => target.mintAccessTokens('confidential', n),
      },
      // Extra checks the peer harness runs (after its own black-box A checks).
      async sanity({ postToken }) {
        const out = {};
        const [rt] = await target.mintRefreshTokens('confidential', 1);
        const plain = await fetch(`${baseUrl}/oauth2/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `grant_type=refresh_token&client_id=${enc(CLIENT_ID)}&client_secret=${enc(clientSecret)}&refresh_token=${enc(rt)}`,
        });
        const pj = await plain.json().catch(() => ({}));
        out['paddock: unmasked client_secret -> invalid_client'] = pj.error === 'invalid_client';
        const r = await postToken('confidential', 'refresh_token', rt);
        out['paddock: same token with the masked secret afterwards -> 200'] = r.status === 200;
        return out;
      },
      stdoutTail,
      stderrTail,
      get exited() {
        return server.exitCode !== null || server.signalCode !== null;
      },
      /** Idempotent: every caller waits for the same stop (SIGTERM, SIGKILL after 3 s, data dir removed). */
      stop() {
        stopping ||= (async () => {
          await mint.stop();
          await killChild(server);
          live.delete(server);
          rmSync(dataDir, { recursive: true, force: true });
          if (database) await database.drop();
        })();
        return stopping;
      },
    };
    return target;
  } catch (err) {
    if (minter) await minter.stop();
    if (child) {
      await killChild(child);
      live.delete(child);
    }
    rmSync(dataDir, { recursive: true, force: true });
    if (database) await database.drop().catch(() => {});
    throw err;
  }
}

// A fresh database on the local PostgreSQL for one server; drop() removes it (forcing out whatever
// connections are left, which are ours).
async function createDatabase() {
  const { default: pg } = await import('pg');
  const admin = new URL(PG_ADMIN_URL);
  if (admin.hostname !== '127.0.0.1' && admin.hostname !== 'localhost')
    throw new Error(`refusing a non-local PostgreSQL: ${admin.hostname}`);
  const name = `paddock_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const run = async (sql) => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

// Starts bench/lib/minter.mjs on the server's data dir, with the server's environment and flags (so its
// tokens carry the server's issuer), and resolves once it has opened the store and the keys.
// `call(msg)` sends one request over IPC and resolves with the answer; `stop()` closes the channel
// (the minter exits by itself) and kills it after 3 s if it has not.
function startMinter({ dataDir, port, env }) {
  return new Promise((resolveStart, reject) => {
    const child = fork(MINTER, ['--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port)], {
      cwd: REPO_ROOT,
      env,
      // Not this process's flags (a harness may run with --expose-gc, --inspect...): a plain node.
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    liveMinters.add(child);
    const stderrTail = tail(child.stderr);
    child.stdout.resume();
    let nextId = 1;
    const waiting = new Map(); // id -> { resolve, reject }
    const gone = () => {
      const why = new Error(
        `the minter exited (${child.signalCode ?? `exit ${child.exitCode}`}):\n${stderrTail().trim()}`,
      );
      for (const w of waiting.values()) w.reject(why);
      waiting.clear();
      return why;
    };
    const startTimer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the minter did not start within 60 s:\n${stderrTail().trim()}`));
    }, 60_000);
    child.on('exit', () => {
      liveMinters.delete(child);
      clearTimeout(startTimer);
      reject(gone());
    });
    child.on('message', (msg) => {
      if (msg.ready) {
        clearTimeout(startTimer);
        resolveStart(minter);
        return;
      }
      const w = waiting.get(msg.id);
      if (!w) return;
      waiting.delete(msg.id);
      if (msg.error) w.reject(new Error(`minter: ${msg.error}`));
      else w.resolve(msg);
    });
    let stopping;
    const minter = {
      pid: child.pid,
      call(msg) {
        return new Promise((res, rej) => {
          if (!child.connected) return rej(new Error('the minter is not running'));
          const id = nextId++;
          waiting.set(id, { resolve: res, reject: rej });
          child.send({ ...msg, id });
        });
      },
      stop() {
        stopping ||= (async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          if (child.connected) child.disconnect();
          const t = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(t);
        })();
        return stopping;
      },
    };
  });
}

// Polls GET /healthz until 200: true, or 'exited' if the process died, or 'timeout'.
async function waitHealthy(url, exited, timeoutMs) {
  let gone = false;
  exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) return 'exited';
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return true;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return gone ? 'exited' : 'timeout';
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the process has exited. */
export async function killChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  const t = setTimeout(() => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 3000);
  await exited;
  clearTimeout(t);
}
