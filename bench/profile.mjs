#!/usr/bin/env node
// Profiles Paddock under the refresh_token load: starts it as the bench does (bench/paddock-target.mjs)
// with `node --cpu-prof`, warms up, runs one bounded load at the given concurrency on 127.0.0.1, stops
// the server (SIGTERM: it exits cleanly and V8 writes the profile) and prints the top functions by
// self time (bench/cpuprofile-top.mjs).
//
// With --workers=N (N > 1) every worker writes its own profile; the summary adds them up (the primary,
// which serves nothing, is left out) and "busy per response" is the workers' main threads together.
//
// --bearer profiles the bearer call (GET /oauth2/iracing/profile with access tokens of fresh sessions)
// instead of the refresh grant; --code=public (or --code=confidential) the authorization_code grant with
// PKCE, each request with a fresh code.
//
// --cli=PATH profiles another build's bin/paddock.mjs (e.g. an older commit's, unpacked elsewhere with
// node_modules linked), for a before/after comparison under the same load.
//
//   node bench/profile.mjs [--conc=50] [--duration=10] [--top=10] [--out=DIR] [--pg] [--workers=1] [--bearer]
//                          [--code=public|confidential] [--cli=PATH]
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { formatSummary, summarise } from './cpuprofile-top.mjs';
import { runLoad } from './lib/load.mjs';
import { createTarget } from './paddock-target.mjs';

const arg = (name, fallback) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const CONC = Number(arg('conc', 50));
const DURATION = Math.min(Number(arg('duration', 10)), 60);
const TOP = Number(arg('top', 10));
const WORKERS = Number(arg('workers', 1));
const OUT = arg('out', join(tmpdir(), `paddock-cpuprof-${Date.now()}`));
mkdirSync(OUT, { recursive: true });

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const enc = encodeURIComponent;
const t = await createTarget({
  pg: process.argv.includes('--pg'),
  workers: WORKERS,
  cli: arg('cli', undefined),
  nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${OUT}`],
});
let result;
let window; // the measured run, on the monotonic clock the profile's timestamps use
try {
  const code = arg('code', undefined);
  const bodies = async (n) =>
    code
      ? (await t.mintCodes(code, n)).map(
          (c) =>
            `grant_type=authorization_code&${t.clientAuth(code)}&code=${enc(c.code)}` +
            `&code_verifier=${enc(c.code_verifier)}&redirect_uri=${enc(c.redirect_uri)}`,
        )
      : (await t.mintRefreshTokens('confidential', n)).map(
          (rt) => `grant_type=refresh_token&${t.clientAuth('confidential')}&refresh_token=${enc(rt)}`,
        );
  const bearer = process.argv.includes('--bearer');
  // Access tokens may be used again and again: a few thousand, each sent many times.
  const tokens = bearer ? await t.mintAccessTokens('confidential', 4000) : [];
  const cycled = (n) => Array.from({ length: n }, (_, i) => tokens[i % tokens.length]);
  const base = bearer
    ? { baseUrl: t.baseUrl, path: t.bearer.path, headers: {}, serverPid: t.pid, bearer: true }
    : { baseUrl: t.baseUrl, path: t.tokenPath, headers: FORM, serverPid: t.pid };
  const poolOf = async (n) => (bearer ? cycled(n) : await bodies(n));
  const warm = await runLoad({ ...base, bodies: await poolOf(6000), connections: 10, durationS: 2 });
  const n = Math.min(200_000, Math.ceil(Math.max(warm.rps, 1000) * DURATION * 2) + 2000);
  const pool = await poolOf(n);
  await new Promise((r) => setTimeout(r, 1000));
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  result = await runLoad({ ...base, bodies: pool, connections: CONC, durationS: DURATION });
  window = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) };
} finally {
  await t.stop();
}
const files = readdirSync(OUT).filter((f) => f.endsWith('.cpuprofile'));
console.log(
  `c=${CONC}, ${DURATION} s: ${result.rps.toFixed(0)} req/s, p50 ${result.latencyMs.p50.toFixed(2)} ms, p99 ${result.latencyMs.p99.toFixed(2)} ms, 2xx ${result.ok}, non-2xx ${result.non2xx}, errors ${result.errors}, srvCPU ${result.serverCpuPct.toFixed(0)}%, othCPU ${result.otherCpuPct.toFixed(0)}%`,
);
if (!files.length) {
  console.error(`no .cpuprofile in ${OUT} (did the server exit cleanly?)`);
  process.exit(1);
}
// The server's profiles are the largest: one, or one per worker (the primary's is the smallest; the
// CLI's own short-lived processes write none here).
const chosen = files
  .map((f) => join(OUT, f))
  .sort((a, b) => readFileSync(b).length - readFileSync(a).length)
  .slice(0, WORKERS);
console.log(`profile: ${chosen.join(', ')} (summary: the measured run only)`);
const parts = chosen.map((f) =>
  summarise(JSON.parse(readFileSync(f, 'utf8')), Number.POSITIVE_INFINITY, window),
);
const byKey = new Map();
for (const p of parts)
  for (const r of p.rows) byKey.set(`${r.fn}\t${r.where}`, (byKey.get(`${r.fn}\t${r.where}`) ?? 0) + r.ms);
const totalMs = parts.reduce((a, p) => a + p.totalMs, 0);
const summary = {
  totalMs,
  idleMs: parts.reduce((a, p) => a + p.idleMs, 0),
  rows: [...byKey.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)
    .map(([key, ms]) => {
      const [fn, where] = key.split('\t');
      return { fn, where, ms, pct: (ms / totalMs) * 100 };
    }),
};
console.log(
  `main thread busy per response: ${((summary.totalMs / result.responses) * 1000).toFixed(0)} µs (${summary.totalMs.toFixed(0)} ms busy / ${result.responses} responses)`,
);
console.log(formatSummary(summary));
