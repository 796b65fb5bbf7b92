// Test harness: real servers (in-process or as `paddock serve` child processes), the real CLI, real
// databases. Every server's log goes to test-output/logs so the run can be audited for secrets.
import { type ChildProcess, spawn } from 'node:child_process';
import { type KeyObject, randomBytes, sign } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type Clock, systemClock } from '../src/clock.ts';
import { loadConfig } from '../src/config.ts';
import type { AppContext } from '../src/context.ts';
import { buildApp } from '../src/http/app.ts';
import { createContext } from '../src/server.ts';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = path.join(REPO, 'packages/server/bin/paddock.mjs');
/**
 * `paddock` as the tests run it: the TypeScript sources through tsx, like the in-process servers, so a
 * built dist/ in the checkout (possibly older than the sources) is never what a test exercises.
 */
export const PADDOCK = ['--import', 'tsx', path.join(REPO, 'packages/server/src/cli/run.ts')];
export const OUTPUT = path.join(REPO, 'test-output');
export const LOG_DIR = path.join(OUTPUT, 'logs');
const SECRETS_DIR = path.join(OUTPUT, 'secrets');
fs.mkdirSync(LOG_DIR, { recursive: true });
fs.mkdirSync(SECRETS_DIR, { recursive: true });

const secretsFile = path.join(SECRETS_DIR, `${process.pid}.txt`);

/** Records a secret this test used, so the log audit can check no log line contains it. */
export function noteSecret(...values: (string | undefined)[]): void {
  const lines = values.filter((v): v is string => !!v && v.length >= 8);
  if (lines.length) fs.appendFileSync(secretsFile, `${lines.join('\n')}\n`);
}

// Every temporary directory a test process makes is removed when that process exits (npm test fails
// when one is left behind). A server a test started is stopped by then.
const madeDirs: string[] = [];
process.once('exit', () => {
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

export function tmpDir(prefix = 'paddock-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

// ---- PostgreSQL

export const PG_URL = process.env.PADDOCK_TEST_DATABASE_URL;

/** Why the PostgreSQL half is skipped, or false when it runs. */
export const pgSkip: string | false = PG_URL
  ? false
  : 'PADDOCK_TEST_DATABASE_URL is not set: PostgreSQL tests skipped (.ci/run sets it)';

/** Creates a fresh database on the test server; returns its URL and a function that drops it. */
export async function createPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `paddock_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL!);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** The two stores, for tests that run on both: the environment that selects one, and its cleanup. */
export const STORE_BACKENDS: {
  name: 'SQLite' | 'PostgreSQL';
  skip: string | false;
  env(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}[] = [
  { name: 'SQLite', skip: false, env: async () => ({ env: {}, cleanup: async () => {} }) },
  {
    name: 'PostgreSQL',
    skip: pgSkip,
    async env() {
      const db = await createPgDatabase();
      return { env: { DATABASE_URL: db.url }, cleanup: db.drop };
    },
  },
];

/**
 * Runs SQL on the server's database over a connection of its own, as an operator at a database prompt
 * would ($1, $2 ... placeholders, on either store).
 */
export async function operatorSql(
  server: TestServer,
  sql: string,
  params: (string | number)[],
): Promise<void> {
  const url = server.env.DATABASE_URL;
  if (!url) {
    const db = new Database(path.join(server.dataDir, 'paddock.db'));
    try {
      db.prepare(sql.replace(/\$\d+/g, '?')).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/**
 * For a describe block per store: an in-process server on a fresh database of that store, started
 * before the block's tests and stopped (its database dropped) after them. Returns the server's getter.
 */
export function serverOnStore(backend: (typeof STORE_BACKENDS)[number], name: string): () => TestServer {
  let server: TestServer | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  before(async () => {
    const db = await backend.env();
    cleanup = db.cleanup;
    server = await startInProcess({ name: `${name}-${backend.name}`, env: db.env });
  });
  after(async () => {
    await server?.stop();
    await cleanup?.();
  });
  return () => server!;
}

/**
 * Waits until a change another process made has reached a PostgreSQL server's processes by notification
 * (a millisecond or so; 150 ms allowed, far below the one-second limit of copies kept of clients). SQLite
 * needs no wait: its counts are read on every request.
 */
export async function settleNotifications(server: TestServer): Promise<void> {
  if (server.env.DATABASE_URL) await new Promise((r) => setTimeout(r, 150));
}

// ---- the CLI

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = any>(): T;
}

export function cli(args: string[], opts: { env?: Record<string, string | undefined>; input?: string } = {}) {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [...PADDOCK, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout, stderr, json: () => JSON.parse(stdout) }),
    );
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs the CLI and fails with its stderr when it does not exit 0. */
export async function cliOk(args: string[], opts: Parameters<typeof cli>[1] = {}): Promise<CliResult> {
  const r = await cli(args, opts);
  if (r.code !== 0) throw new Error(`paddock ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

// ---- servers

export interface TestServer {
  url: string;
  issuer: string;
  dataDir: string;
  env: Record<string, string>;
  /** The context of an in-process server (undefined for a child process). */
  ctx?: AppContext;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

function logFileFor(name: string): string {
  return path.join(LOG_DIR, `${name}-${process.pid}-${randomBytes(3).toString('hex')}.log`);
}

/** A fresh data dir, a free port, and the environment a test server runs with. */
async function serverEnv(opts: { env?: Record<string, string>; dataDir?: string }) {
  const dataDir = opts.dataDir ?? tmpDir();
  const port = await freePort();
  const env = {
    PADDOCK_LOG_LEVEL: 'info',
    // One process, as before workers existed; the workers tests ask for more.
    PADDOCK_WORKERS: '1',
    ...opts.env,
    PADDOCK_DATA_DIR: dataDir,
    PADDOCK_PORT: String(port),
  };
  return { dataDir, port, env };
}

/** A server in this process (fast to start), on a real port, with its own data dir or database. */
export async function startInProcess(
  opts: { env?: Record<string, string>; dataDir?: string; clock?: Clock; name?: string } = {},
): Promise<TestServer> {
  const { dataDir, port, env } = await serverEnv(opts);
  const config = loadConfig(env);
  const ctx = await createContext(config, opts.clock ?? systemClock);
  const { store, keys } = ctx;
  const logFile = logFileFor(opts.name ?? 'inproc');
  const logStream = fs.createWriteStream(logFile);
  const app = await buildApp(ctx, { logStream });
  await app.listen({ host: '127.0.0.1', port });
  return {
    url: `http://127.0.0.1:${port}`,
    issuer: config.issuer,
    dataDir,
    env,
    ctx,
    pid: process.pid,
    logFile,
    async stop() {
      keys.stop();
      await app.close();
      await store.close();
      await new Promise((r) => logStream.end(r));
    },
  };
}

/** `paddock serve` (or `dev`) as a child process, as a user would run it. */
export async function startProcess(
  opts: { env?: Record<string, string>; dataDir?: string; command?: 'serve' | 'dev'; name?: string } = {},
): Promise<TestServer & { child: ChildProcess; output(): string }> {
  const { dataDir, port, env } = await serverEnv(opts);
  const logFile = logFileFor(opts.name ?? opts.command ?? 'serve');
  const out = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [...PADDOCK, opts.command ?? 'serve'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`paddock ${opts.command ?? 'serve'} exited: ${fs.readFileSync(logFile, 'utf8')}`);
    }
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`server did not start: ${fs.readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    issuer: url,
    dataDir,
    env,
    pid: child.pid!,
    logFile,
    child,
    output: () => fs.readFileSync(logFile, 'utf8'),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// ---- HTTP

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export async function post(
  url: string,
  form: Record<string, string> | string,
  headers: Record<string, string> = {},
) {
  const body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  return result(r);
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return result(await fetch(url, { headers }));
}

async function result(r: Response): Promise<HttpResult> {
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: r.status, headers: r.headers, body, text };
}

export function decodeJwt(token: string): { header: any; payload: any } {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString()),
  };
}

/** A compact EdDSA JWS of any header and payload, for tests that forge or hand-craft access tokens. */
export function signEdDsaJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject,
): string {
  const input = [header, payload].map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')).join('.');
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

/** A clock tests can move forward. */
export class TestClock implements Clock {
  constructor(private t = Date.now()) {}
  now() {
    return this.t;
  }
  advance(seconds: number) {
    this.t += seconds * 1000;
  }
}
