// The production build: tsconfig.build.json compiles the server to JavaScript, bin/paddock.mjs runs it
// when dist/ is there, and `paddock serve` from it grants tokens without tsx. Built into a directory of
// its own (beside a copy of the bin), so the checkout's dist/ is left as it was.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { openStore } from '../src/store/index.ts';
import { headless, passwordForm } from './fixtures.ts';
import { freePort, noteSecret, OUTPUT, post, REPO, tmpDir } from './helpers.ts';

const SERVER = path.join(REPO, 'packages/server');
const root = path.join(OUTPUT, `build-${process.pid}`);

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.js'));
}

describe('the compiled server', () => {
  let child: ChildProcess | undefined;
  before(() => {
    fs.rmSync(root, { recursive: true, force: true });
    const tsc = spawnSync(
      process.execPath,
      [
        path.join(REPO, 'node_modules/typescript/bin/tsc'),
        '-p',
        path.join(SERVER, 'tsconfig.build.json'),
        '--outDir',
        path.join(root, 'dist'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    fs.mkdirSync(path.join(root, 'bin'));
    fs.copyFileSync(path.join(SERVER, 'bin/paddock.mjs'), path.join(root, 'bin/paddock.mjs'));
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('imports JavaScript only: no .ts specifier and no tsx', () => {
    const dist = path.join(root, 'dist');
    for (const f of files(dist)) {
      const text = fs.readFileSync(path.join(dist, f), 'utf8');
      assert.doesNotMatch(text, /from ["'][^"']+\.ts["']|import\(["'][^"']+\.ts["']\)/, f);
      assert.doesNotMatch(text, /["']tsx(\/[^"']*)?["']/, f);
    }
  });

  test('paddock serve from dist grants a token', async () => {
    const port = await freePort();
    const env = { PADDOCK_DATA_DIR: tmpDir(), PADDOCK_PORT: String(port), PADDOCK_WORKERS: '2' };
    let out = '';
    child = spawn(process.execPath, [path.join(root, 'bin/paddock.mjs'), 'serve'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      out += d;
    });
    const deadline = Date.now() + 60_000;
    while (!out.includes('serving with workers')) {
      assert.equal(child.exitCode, null, out);
      assert.ok(Date.now() < deadline, out);
      await new Promise((r) => setTimeout(r, 100));
    }
    const store = await openStore(loadConfig(env), Math.floor(Date.now() / 1000));
    try {
      const h = await headless(store);
      const r = await post(`http://127.0.0.1:${port}/oauth2/token`, passwordForm(h));
      assert.equal(r.status, 200, r.text);
      noteSecret(r.body.access_token, r.body.refresh_token);
      assert.equal(r.body.token_type, 'Bearer');
    } finally {
      await store.close();
    }
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out.slice(-2000));
  });
});

// npm 11.19 warns of a dependency's install script that the root package.json does not allow, and its
// manual says such scripts are blocked: skipped, better-sqlite3's would leave it with no compiled binding,
// and the server could not open a store.
test('every dependency with an install script is allowed to run it (allowScripts)', () => {
  const root = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8'));
  const withScripts = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
    .filter(([where, pkg]) => where.includes('node_modules/') && pkg.hasInstallScript)
    .map(([where]) => where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length));
  assert.ok(withScripts.includes('better-sqlite3'), 'the lock file records better-sqlite3 and its script');
  const allowed = root.allowScripts ?? {};
  assert.deepEqual(
    withScripts.filter((name) => allowed[name] !== true),
    [],
    'packages whose install script npm would skip',
  );
});
