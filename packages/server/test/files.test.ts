// Files are private: `paddock serve` creates its data dir 0700 and its database, WAL files and master key
// 0600 (whatever the umask), tightens database files an older version left open, and refuses to start
// when the data dir holding a master key is open to other users.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { freePort, PADDOCK, startProcess, tmpDir } from './helpers.ts';

const mode = (file: string) => fs.statSync(file).mode & 0o777;
const octal = (m: number) => m.toString(8).padStart(4, '0');

/** Runs `paddock serve` and waits for it to exit, killing it (and failing) if it is still up after 20 s. */
async function serveExpectingExit(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...PADDOCK, 'serve'], {
    env: { ...process.env, PADDOCK_DATA_DIR: dataDir, PADDOCK_PORT: String(await freePort()) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  return { code, stderr };
}

describe('files are private', () => {
  const dataDir = path.join(tmpDir(), 'nested', 'data');

  test('a fresh data dir is 0700; the database, its WAL files and the master key are 0600', async () => {
    // Under the common umask 022 a plain mkdir or open would give 0755 and 0644.
    const server = await startProcess({ dataDir, name: 'files-fresh' });
    try {
      assert.equal(octal(mode(dataDir)), '0700');
      for (const f of ['paddock.db', 'paddock.db-wal', 'paddock.db-shm', 'master.key']) {
        assert.equal(octal(mode(path.join(dataDir, f))), '0600', f);
      }
    } finally {
      await server.stop();
    }
  });

  test('database files an older version left readable by others are made private on start', async () => {
    for (const f of ['paddock.db', 'paddock.db-wal', 'paddock.db-shm']) {
      const file = path.join(dataDir, f);
      if (fs.existsSync(file)) fs.chmodSync(file, 0o644);
    }
    const server = await startProcess({ dataDir, name: 'files-tighten' });
    try {
      for (const f of ['paddock.db', 'paddock.db-wal', 'paddock.db-shm']) {
        assert.equal(octal(mode(path.join(dataDir, f))), '0600', f);
      }
    } finally {
      await server.stop();
    }
  });

  for (const open of [0o755, 0o750, 0o702]) {
    test(`a data dir holding a master key with mode ${octal(open)}: the start is refused in one line`, async () => {
      assert.ok(fs.existsSync(path.join(dataDir, 'master.key')));
      fs.chmodSync(dataDir, open);
      try {
        const r = await serveExpectingExit(dataDir);
        assert.equal(r.code, 1, `exit code ${r.code}; stderr: ${r.stderr}`);
        assert.equal(
          r.stderr,
          `paddock: data dir ${dataDir} holds the master key but is open to other users (mode ${octal(open)}): chmod 700 ${dataDir}\n`,
        );
      } finally {
        fs.chmodSync(dataDir, 0o700);
      }
    });
  }

  test('the same data dir back at 0700 starts again', async () => {
    const server = await startProcess({ dataDir, name: 'files-restored' });
    await server.stop();
  });
});
