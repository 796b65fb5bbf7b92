// Background work fails loudly: a failed reload of the signing keys and a failed sweep of expired rows
// are logged at error through pino (name and message, never a secret), and the server carries on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { loadConfig } from '../src/config.ts';
import { buildApp } from '../src/http/app.ts';
import { createContext, sweepExpired } from '../src/server.ts';
import { get, startProcess, tmpDir } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pino lines of a log, parsed. */
function logLines(text: string): Record<string, any>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

describe('errors in background work are logged', () => {
  test('a failed reload of the signing keys is logged at error, and the next reload recovers', async () => {
    const server = await startProcess({
      env: { PADDOCK_KEY_REFRESH_INTERVAL: '1' },
      name: 'keys-reload-error',
    });
    const db = new Database(path.join(server.dataDir, 'paddock.db'));
    try {
      db.exec('ALTER TABLE signing_keys RENAME TO signing_keys_away');
      const deadline = Date.now() + 15_000;
      let failure: Record<string, any> | undefined;
      while (!failure && Date.now() < deadline) {
        await sleep(250);
        failure = logLines(server.output()).find((l) => l.level === 50 && /signing keys/.test(l.msg));
      }
      assert.ok(failure, `an error line about the signing keys in:\n${server.output()}`);
      assert.equal(failure.error.name, 'SqliteError');
      assert.match(failure.error.message, /no such table: signing_keys/);
      assert.deepEqual(Object.keys(failure.error), ['name', 'message'], 'name and message only');
      db.exec('ALTER TABLE signing_keys_away RENAME TO signing_keys');
      const jwks = await get(`${server.url}/.well-known/jwks.json`);
      assert.equal(jwks.status, 200);
      assert.equal(jwks.body.keys.length, 1);
    } finally {
      db.close();
      await server.stop();
    }
  });

  test('a failed sweep of expired rows is logged at error', async () => {
    const dataDir = tmpDir();
    const ctx = await createContext(loadConfig({ PADDOCK_DATA_DIR: dataDir }));
    const logStream = new PassThrough();
    let log = '';
    logStream.on('data', (d) => {
      log += d;
    });
    const app = await buildApp(ctx, { logStream });
    await ctx.store.close();
    await sweepExpired(ctx, app.log);
    const errors = logLines(log).filter((l) => l.level === 50);
    assert.equal(errors.length, 3, log);
    for (const e of errors) {
      assert.match(e.msg, /sweep/);
      assert.equal(e.error.name, 'TypeError');
      assert.match(e.error.message, /database connection is not open/);
    }
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
});
