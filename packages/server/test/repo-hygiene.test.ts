// The production server carries no benchmark code: no minting route, whatever the environment says,
// and no benchmark setting or mention anywhere in its source. The benchmark mints its tokens from
// outside (bench/lib/minter.mjs), through the server's own modules.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { headless } from './fixtures.ts';
import { post, REPO, startInProcess } from './helpers.ts';

test('packages/server/src has no benchmark code (no file or line mentioning "bench")', () => {
  const src = path.join(REPO, 'packages/server/src');
  const found: string[] = [];
  for (const rel of fs.readdirSync(src, { recursive: true }).map(String)) {
    const file = path.join(src, rel);
    if (/bench/i.test(rel)) found.push(rel);
    if (!fs.statSync(file).isFile()) continue;
    fs.readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/bench/i.test(line)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, []);
});

test('a server started with the former benchmark settings has no token-minting route', async () => {
  const key = 'a-benchmark-key-of-some-length';
  const server = await startInProcess({ env: { PADDOCK_BENCH_KEY: key }, name: 'no-bench-route' });
  const h = await headless(server.ctx!.store);
  // The former hook read these two from the process environment.
  process.env.PADDOCK_BENCH_CLIENT = h.clientId;
  process.env.PADDOCK_BENCH_USER = h.username;
  try {
    const mint = await post(
      `${server.url}/__bench/mint`,
      JSON.stringify({ kind: 'refresh_token', client: 'confidential', n: 3 }),
      { 'content-type': 'application/json', 'x-bench-key': key },
    );
    assert.equal(mint.status, 404, mint.text);
    const now = Math.floor(Date.now() / 1000);
    assert.deepEqual(await server.ctx!.store.liveSessions(h.userId, h.clientId, now), []);
  } finally {
    delete process.env.PADDOCK_BENCH_CLIENT;
    delete process.env.PADDOCK_BENCH_USER;
    await server.stop();
  }
});
