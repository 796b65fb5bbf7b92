// Safe concurrent start: processes starting at the same instant on a fresh data dir (SQLite) or a fresh
// database (PostgreSQL) all start, agree on one master key and publish one JWKS with exactly one key.
// Twenty rounds go through worker processes that load the server once and run its startServer on a
// signal (so the four starts race as tightly as possible); one round spawns `paddock serve` itself.
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPgDatabase, get, LOG_DIR, pgSkip, startProcess, tmpDir } from './helpers.ts';

const WORKER = path.join(import.meta.dirname, 'procs', 'start-worker.ts');

type Reply = { ready?: true; url?: string; stopped?: true; error?: string };

/** A separate OS process that runs the server's startServer when asked. */
class Worker {
  private readonly replies: Reply[] = [];
  private waiting: ((r: Reply) => void) | undefined;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: Reply) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (w) w(m);
      else this.replies.push(m);
    });
  }

  static async spawn(name: string): Promise<Worker> {
    const log = fs.openSync(path.join(LOG_DIR, `${name}-${process.pid}.log`), 'a');
    const child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', log, log, 'ipc'] });
    fs.closeSync(log);
    const w = new Worker(child);
    assert.deepEqual(await w.next(), { ready: true });
    return w;
  }

  next(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker did not answer in 30 s')), 30_000);
      this.waiting = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  async start(env: Record<string, string>): Promise<Reply> {
    this.child.send({ start: env });
    return this.next();
  }

  async stop(): Promise<void> {
    this.child.send({ stop: true });
    assert.deepEqual(await this.next(), { stopped: true });
  }
}

/** Starts every worker at once on the same data dir / database and checks they agree; then stops them. */
async function round(workers: Worker[], env: Record<string, string>, label: string) {
  const replies = await Promise.all(workers.map((w) => w.start(env)));
  try {
    for (const r of replies) assert.ok(r.url, `${label}: a start failed: ${r.error}`);
    await agreeOnOneKey(
      replies.map((r) => r.url!),
      label,
    );
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

async function agreeOnOneKey(urls: string[], label: string) {
  const bodies = await Promise.all(urls.map(async (u) => (await get(`${u}/.well-known/jwks.json`)).body));
  for (const b of bodies) assert.deepEqual(b, bodies[0], `${label}: the processes serve different JWKS`);
  assert.equal(bodies[0].keys.length, 1, `${label}: ${bodies[0].keys.length} keys in the JWKS`);
}

/** The data dir holds the master key, the database and its WAL files: no temp file is left behind. */
function assertTidy(dataDir: string, sqlite: boolean) {
  const key = Buffer.from(fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8').trim(), 'base64');
  assert.equal(key.length, 32);
  const allowed = ['master.key', ...(sqlite ? ['paddock.db', 'paddock.db-wal', 'paddock.db-shm'] : [])];
  for (const f of fs.readdirSync(dataDir))
    assert.ok(allowed.includes(f), `unexpected file ${f} in the data dir`);
}

const env = (dataDir: string, extra: Record<string, string> = {}) => ({
  PADDOCK_DATA_DIR: dataDir,
  PADDOCK_PORT: '0',
  PADDOCK_ISSUER: 'http://paddock.test',
  PADDOCK_LOG_LEVEL: 'warn',
  ...extra,
});

describe('four processes starting at the same instant', () => {
  const workers: Worker[] = [];
  before(async () => {
    workers.push(...(await Promise.all([0, 1, 2, 3].map((i) => Worker.spawn(`start-worker-${i}`)))));
  });
  after(() => {
    for (const w of workers) w.child.kill();
  });

  test('on a fresh SQLite data dir, twenty times: every start succeeds, one master key, one signing key', async () => {
    for (let i = 0; i < 20; i++) {
      const dataDir = path.join(tmpDir(), 'data');
      await round(workers, env(dataDir), `round ${i + 1}`);
      assertTidy(dataDir, true);
    }
  });

  test('on a fresh PostgreSQL database, five times', { skip: pgSkip }, async () => {
    for (let i = 0; i < 5; i++) {
      const db = await createPgDatabase();
      try {
        const dataDir = path.join(tmpDir(), 'data');
        await round(workers, env(dataDir, { DATABASE_URL: db.url }), `round ${i + 1}`);
        assertTidy(dataDir, false);
      } finally {
        await db.drop();
      }
    }
  });
});

test('`paddock serve` four times at once on a fresh data dir', async () => {
  const dataDir = path.join(tmpDir(), 'data');
  const servers = await Promise.allSettled(
    [0, 1, 2, 3].map((i) =>
      startProcess({ dataDir, env: { PADDOCK_ISSUER: 'http://paddock.test' }, name: `start-serve-${i}` }),
    ),
  );
  try {
    for (const s of servers) assert.equal(s.status, 'fulfilled', String((s as PromiseRejectedResult).reason));
    await agreeOnOneKey(
      servers.map((s) => (s as PromiseFulfilledResult<{ url: string }>).value.url),
      '`paddock serve`',
    );
    assertTidy(dataDir, true);
  } finally {
    for (const s of servers) if (s.status === 'fulfilled') await s.value.stop();
  }
});
