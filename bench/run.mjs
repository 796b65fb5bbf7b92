#!/usr/bin/env node
// `npm run bench`: load-benchmarks Paddock's token endpoint (refresh_token grant, single-use
// rotating refresh tokens) on the embedded SQLite store, and with --peer runs the peer
// oidc-provider harness against Paddock in the same command for a side-by-side ratio.
// See bench/README.md.
//
//   npm run bench -- [--duration=10] [--conc=10,50] [--warmup=6] [--workers=1,2] [--peer] [--pg]
//                    [--max-pool=150000] [--sqlite-synchronous=FULL|NORMAL] [--timeout=S]
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';

import { describeSyncLatency, syncLatency } from './lib/disk.mjs';
import { runLoad } from './lib/load.mjs';
import { peerDir, runPeer } from './lib/peer.mjs';
import { machineBusySeconds } from './lib/proc.mjs';
import { createTarget, REPO_ROOT } from './paddock-target.mjs';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- options
const USAGE = `usage: npm run bench -- [options]
  --duration=S              seconds per measured load run (default 10)
  --conc=10,50              concurrencies (connections) to measure (default 10,50)
  --warmup=S                warm-up at c=10 before measuring, not reported (default 6; with --peer, per
                            target and scenario, and up to 4,000 requests per 3 s of it)
  --workers=1,2             paddock serve --workers counts to measure, each a row (default 1,2)
  --peer                    instead of the standalone run: the oidc-provider peer harness with each
                            Paddock configuration as a target, side by side
  --peer-only               the same as --peer (kept for older command lines)
  --pg                      with --peer: also Paddock on PostgreSQL (a fresh database on 127.0.0.1:5432)
  --scenarios=A,B,B-pub,C   peer-harness scenarios (default all: refresh, code+PKCE, public code, bearer call)
  --max-pool=N              cap on pre-minted refresh tokens per run (default 150000)
  --sqlite-synchronous=M    FULL (Paddock's default) or NORMAL
  --timeout=S               hard cap on the whole command (default 600, 1200 with --peer, 1800 with --pg)`;
const argv = {};
for (const a of process.argv.slice(2)) {
  const m = a.match(/^--([a-z-]+)(?:=(.*))?$/);
  if (!m) {
    console.error(`unknown argument "${a}"\n${USAGE}`);
    process.exit(2);
  }
  argv[m[1]] = m[2] ?? 'true';
}
const KNOWN = [
  'duration',
  'conc',
  'warmup',
  'peer',
  'peer-only',
  'workers',
  'pg',
  'scenarios',
  'max-pool',
  'sqlite-synchronous',
  'timeout',
  'help',
];
for (const k of Object.keys(argv)) {
  if (!KNOWN.includes(k)) {
    console.error(`unknown option --${k}\n${USAGE}`);
    process.exit(2);
  }
}
if (argv.help) {
  console.log(USAGE);
  process.exit(0);
}
const num = (name, fallback, min, max) => {
  const v = argv[name] === undefined ? fallback : Number(argv[name]);
  if (!Number.isFinite(v) || v < min || v > max) {
    console.error(`--${name}: expected a number from ${min} to ${max}, got "${argv[name]}"`);
    process.exit(2);
  }
  return v;
};
const DURATION = num('duration', 10, 1, 120);
// Long enough for each of two workers to see the 4,000 warm-up requests the peer harness gives its single
// process (bench/README.md, "Warm-up").
const WARMUP_S = num('warmup', 6, 1, 30);
const MAX_POOL = num('max-pool', 150_000, 1000, 1_000_000);
const CONC = (argv.conc || '10,50').split(',').map(Number);
if (!CONC.length || CONC.some((c) => !Number.isInteger(c) || c < 1 || c > 1000)) {
  console.error(`--conc: expected comma-separated whole numbers from 1 to 1000, got "${argv.conc}"`);
  process.exit(2);
}
// The peer run measures scenario A too (with every Paddock configuration): --peer replaces the standalone run.
const PEER = argv['peer-only'] === 'true' || argv.peer === 'true';
const PEER_ONLY = PEER;
const WORKERS = (argv.workers || '1,2').split(',').map(Number);
if (!WORKERS.length || WORKERS.some((w) => !Number.isInteger(w) || w < 1 || w > 64)) {
  console.error(`--workers: expected comma-separated whole numbers from 1 to 64, got "${argv.workers}"`);
  process.exit(2);
}
const PG = argv.pg === 'true';
const SCENARIOS = (argv.scenarios || 'A,B,B-pub,C').split(',');
if (SCENARIOS.some((x) => !['A', 'B', 'B-pub', 'C'].includes(x))) {
  console.error(`--scenarios: expected a comma-separated subset of A,B,B-pub,C, got "${argv.scenarios}"`);
  process.exit(2);
}
const SYNC = argv['sqlite-synchronous']?.toUpperCase();
if (SYNC && SYNC !== 'FULL' && SYNC !== 'NORMAL') {
  console.error('--sqlite-synchronous: expected FULL or NORMAL');
  process.exit(2);
}
const TIMEOUT_S = num('timeout', PEER ? (PG ? 1800 : 1200) : 600, 30, 7200);

const t0 = Date.now();
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Once a signal or the hard timeout is being handled, bail() owns the exit: report nothing more.
const unlessStopping = async () => {
  if (exiting) await new Promise(() => {});
};

// ---------------------------------------------------------------- cleanup: always stop what we started
let target; // the standalone Paddock target, while it runs
let peerChild; // run.sh's process group, while it runs
async function cleanup() {
  if (peerChild && peerChild.exitCode === null && peerChild.signalCode === null) {
    try {
      process.kill(-peerChild.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const pgid = peerChild.pid;
    await Promise.race([new Promise((r) => peerChild.once('exit', r)), sleep(5000)]);
    await sleep(500);
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* group already gone */
    }
  }
  if (target) await target.stop().catch(() => {});
}
let exiting = false;
async function bail(code, msg) {
  if (exiting) return;
  exiting = true;
  if (msg) log(msg);
  // Not unref'd: it also keeps the process alive until cleanup() has finished.
  setTimeout(() => process.exit(code), 10_000);
  await cleanup();
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => bail(130, `${sig}: stopping`));
const hardTimer = setTimeout(
  () => bail(1, `hard timeout: the benchmark did not finish within ${TIMEOUT_S} s (--timeout); stopped`),
  TIMEOUT_S * 1000,
);

// ---------------------------------------------------------------- helpers
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const enc = encodeURIComponent;
const refreshBody = (t, rt) =>
  `grant_type=refresh_token&${t.clientAuth('confidential')}&refresh_token=${enc(rt)}`;

async function postToken(t, rt) {
  const res = await fetch(`${t.baseUrl}${t.tokenPath}`, {
    method: 'POST',
    headers: FORM,
    body: refreshBody(t, rt),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = { raw: text.slice(0, 300) };
  }
  return { status: res.status, json };
}

function serverReport(t) {
  const err = t.stderrTail().trim();
  const out = t.stdoutTail().trim();
  return `--- Paddock stderr (tail) ---\n${err || '(empty)'}\n--- Paddock stdout (tail) ---\n${out || '(empty)'}`;
}

// Sanity before load: a minted token works once, its rotation works, reuse gets 400 invalid_grant.
async function sanity(t) {
  const checks = [];
  const check = (name, ok, detail) => {
    checks.push({ name, ok: !!ok, detail });
    log(`  sanity: ${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `: ${detail}`}`);
  };
  const [rt] = await t.mintRefreshTokens('confidential', 1);
  const r1 = await postToken(t, rt);
  check(
    'minted refresh token -> 200 with a new refresh_token and an access_token',
    r1.status === 200 && r1.json.access_token && r1.json.refresh_token && r1.json.refresh_token !== rt,
    JSON.stringify(r1),
  );
  const r2 = await postToken(t, rt);
  check(
    'same refresh token again -> 400 invalid_grant',
    r2.status === 400 && r2.json.error === 'invalid_grant',
    JSON.stringify(r2),
  );
  const [rt2] = await t.mintRefreshTokens('confidential', 1);
  const r3 = await postToken(t, rt2);
  const r4 = r3.json.refresh_token ? await postToken(t, r3.json.refresh_token) : { status: 0, json: {} };
  check(
    'rotated refresh token of another session -> 200',
    r3.status === 200 && r4.status === 200,
    JSON.stringify({ r3: r3.status, r4 }),
  );
  return checks;
}

// Shared machine: before each measured run wait (bounded: BENCH_QUIET_BUDGET_S, default 60 s, for the whole command)
// until the rest of the machine uses less than QUIET_PCT % of a core. Rows measured while others
// used more are marked '*' in the table (contended: read them as lower bounds).
const QUIET_PCT = 25;
let quietBudgetS = Number(process.env.BENCH_QUIET_BUDGET_S || 60);
async function waitQuiet() {
  for (;;) {
    const m0 = machineBusySeconds();
    const ts = performance.now();
    await sleep(500);
    const busy = ((machineBusySeconds() - m0) / ((performance.now() - ts) / 1000)) * 100;
    if (!(busy >= QUIET_PCT) || quietBudgetS <= 0) return busy;
    quietBudgetS -= 0.5;
    if (Math.round(quietBudgetS * 2) % 10 === 0)
      log(
        `  waiting for a quieter machine (others use ${busy.toFixed(0)}% of a core now; ${quietBudgetS.toFixed(0)} s of waiting left)`,
      );
  }
}

async function mintPool(t, n) {
  const ts = performance.now();
  const rts = await t.mintRefreshTokens('confidential', n);
  log(`  minted ${n} refresh tokens in ${((performance.now() - ts) / 1000).toFixed(1)} s`);
  return rts.map((rt) => refreshBody(t, rt));
}

function describe(r) {
  const codes = Object.entries(r.statusCounts)
    .map(([k, v]) => `${k}:${v}`)
    .join(' ');
  return `${r.rps.toFixed(0)} req/s, p50 ${r.latencyMs.p50.toFixed(2)} ms, p99 ${r.latencyMs.p99.toFixed(2)} ms, 2xx ${r.ok}, non-2xx ${r.non2xx}, socket errors ${r.errors} (timeouts ${r.timeouts}), srv ${r.serverCpuPct.toFixed(0)}%, gen ${r.loadgenCpuPct.toFixed(0)}%, other ${r.otherCpuPct.toFixed(0)}% [${codes}] sent ${r.sent}/${r.poolSize}${r.poolUsedUp ? ' (pool used up)' : ''}`;
}

// ---------------------------------------------------------------- standalone Paddock run
async function benchPaddock(workers) {
  const rows = [];
  const problems = [];
  target = await createTarget({
    log: (m) => log(m),
    workers,
    env: SYNC ? { PADDOCK_SQLITE_SYNCHRONOUS: SYNC } : {},
  });
  const t = target;
  try {
    log('sanity checks');
    const checks = await sanity(t);
    if (checks.some((c) => !c.ok)) {
      throw new Error(`sanity checks failed; not benchmarking a misbehaving server\n${serverReport(t)}`);
    }

    await t.reset();
    log(`warm-up: c=10 for ${WARMUP_S} s (not reported)`);
    const warmBodies = await mintPool(t, Math.max(2000, Math.min(MAX_POOL, 1500 * WARMUP_S)));
    await sleep(300);
    const warm = await runLoad({
      baseUrl: t.baseUrl,
      path: t.tokenPath,
      headers: FORM,
      bodies: warmBodies,
      connections: 10,
      durationS: WARMUP_S,
      serverPid: t.pid,
    });
    log(`  warm-up: ${describe(warm)}`);
    if (warm.non2xx || warm.errors) problems.push({ label: 'warm-up c=10', r: warm });
    // Floor: a warm-up slowed by other work on the machine must not leave the measured runs short of tokens.
    let rate = Math.max(warm.rps, 750);

    for (const c of CONC) {
      log(`refresh_token grant, c=${c}, ${DURATION} s`);
      await t.reset();
      const n = Math.min(MAX_POOL, Math.ceil(2 * rate * DURATION) + 2000);
      const bodies = await mintPool(t, Math.max(n, c * 2));
      await sleep(1000); // let the server settle (GC, WAL checkpoint) after minting
      await waitQuiet();
      const r = await runLoad({
        baseUrl: t.baseUrl,
        path: t.tokenPath,
        headers: FORM,
        bodies,
        connections: c,
        durationS: DURATION,
        serverPid: t.pid,
      });
      log(`  ${describe(r)}`);
      rows.push({ ...r, workers });
      if (r.non2xx || r.errors) problems.push({ label: `workers=${workers} c=${c}`, r });
      if (t.exited) throw new Error(`Paddock exited during the c=${c} run\n${serverReport(t)}`);
      rate = Math.max(rate, r.rps);
    }
    return { rows, problems, checks, stderr: t.stderrTail().trim(), stdout: t.stdoutTail().trim() };
  } finally {
    await t.stop();
    target = undefined;
  }
}

// ---------------------------------------------------------------- report
const fmtInt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
const fmtMs = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const pad = (s, n) => String(s).padEnd(n);
const padL = (s, n) => String(s).padStart(n);

function table(headers, widths, rows) {
  const line = (cells) => cells.map((c, i) => (i === 0 ? pad(c, widths[i]) : padL(c, widths[i]))).join('  ');
  const h = line(headers);
  return [h, '-'.repeat(h.length), ...rows.map(line)].join('\n');
}

function selfTable(rows) {
  return table(
    [
      'scenario',
      'workers',
      'conc',
      'secs',
      'req/s',
      'p50 ms',
      'p99 ms',
      '2xx',
      'non-2xx',
      'sock err',
      'srvCPU%',
      'genCPU%',
      'othCPU%',
      'steal%',
      'tokens sent/pool',
    ],
    [30, 7, 4, 5, 8, 7, 7, 8, 7, 8, 7, 7, 7, 6, 19],
    rows.map((r) => [
      'A: refresh_token (rotation)',
      r.workers,
      r.connections,
      r.windowS.toFixed(1),
      fmtInt(r.rps),
      fmtMs(r.latencyMs.p50),
      fmtMs(r.latencyMs.p99),
      r.ok,
      r.non2xx,
      r.errors,
      fmtInt(r.serverCpuPct),
      fmtInt(r.loadgenCpuPct),
      fmtInt(r.otherCpuPct),
      fmtInt(r.stealPct),
      `${r.sent}/${r.poolSize}${r.otherCpuPct > QUIET_PCT ? '  *' : ''}`,
    ]),
  );
}

function gitHead() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 5000,
    }).trim();
  } catch {
    return '?';
  }
}

/**
 * The disk's sync latency once what the runs left in the page cache (a dropped database, removed data
 * dirs) is written out: measured straight after them, it would time that write-back, not the disk.
 */
async function settledSyncLatency() {
  try {
    execFileSync('sync', { timeout: 60_000 });
  } catch {
    // No sync(1) here: measure as things stand.
  }
  await sleep(1000);
  return syncLatency();
}

// ---------------------------------------------------------------- main
let exitCode = 0;
try {
  const busy0 = machineBusySeconds();
  await sleep(1000);
  const busyBefore = (machineBusySeconds() - busy0) * 100;
  const diskBefore = await settledSyncLatency();
  const header = [
    `Paddock token endpoint benchmark  ${new Date().toISOString()}  commit ${gitHead()} (working tree as is)`,
    `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model}, loadavg ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, machine busy before start ${busyBefore.toFixed(0)}% (of ${cpus().length * 100}%)`,
    `disk before the runs: ${describeSyncLatency(diskBefore)}`,
    `autocannon ${require('autocannon/package.json').version} in this process (HTTP/1.1 keep-alive, 1 request in flight per connection); ${DURATION} s per run, warm-up ${WARMUP_S} s at c=10`,
    `Paddock: paddock serve --workers ${WORKERS.join(' / ')}, embedded SQLite (WAL, synchronous=${SYNC || 'FULL (default)'}) in a fresh temp data dir, log level warn`,
  ].join('\n');
  log(header.replace(/\n/g, '\n  '));

  let self;
  if (!PEER_ONLY) {
    self = { rows: [], problems: [], checks: [], stderr: '', stdout: '' };
    for (const workers of WORKERS) {
      log(`Paddock with --workers ${workers}`);
      const one = await benchPaddock(workers);
      self.rows.push(...one.rows);
      self.problems.push(...one.problems);
      self.checks.push(...one.checks);
      self.stderr += one.stderr;
      self.stdout += one.stdout;
    }
    await unlessStopping();
    console.log(`\n${header}\n`);
    console.log(selfTable(self.rows));
    console.log(
      '\nreq/s = responses / traffic window (secs: start to last response); p50/p99 exact, over every response;',
    );
    console.log(
      'non-2xx = HTTP responses other than 2xx; sock err = socket errors + timeouts (10 s); srvCPU% = Paddock process tree',
    );
    console.log(
      '(primary + workers, all threads; 100 = one core); genCPU% = this process (autocannon); othCPU% = the rest of the machine (200 in all);',
    );
    console.log(
      'steal% = CPU time the host took from this virtual machine during the run (othCPU% counts it as busy).',
    );
    console.log(
      `* = other work used more than ${QUIET_PCT}% of a core during that run: contended, read it as a lower bound.`,
    );
    console.log(`sanity: ${self.checks.map((c) => `${c.name}: ${c.ok ? 'ok' : 'FAIL'}`).join('; ')}`);
    if (self.problems.length) {
      exitCode = 1;
      console.log('\nPROBLEMS under load:');
      for (const { label, r } of self.problems) {
        console.log(
          `  ${label}: status codes ${JSON.stringify(r.statusCounts)}, socket errors ${r.errors}, timeouts ${r.timeouts}, pool overrun ${r.overrun}`,
        );
        for (const [status, bodies] of Object.entries(r.samples))
          for (const b of bodies) console.log(`    ${status}: ${b}`);
      }
    }
    if (self.problems.length || self.stderr) {
      console.log(
        `\n--- Paddock stderr (tail) ---\n${self.stderr || '(empty)'}\n--- Paddock stdout (tail) ---\n${self.stdout || '(empty)'}`,
      );
    }
  }

  // With --pg, one harness run per store, each with its own peer rows: one run of every target lasts longer
  // than the access tokens the harness collects for its scenario C at the start (600 s), and the expired
  // tokens would fail that scenario and lose the run's whole table.
  const passes = PG
    ? [WORKERS.map((workers) => ({ workers })), WORKERS.map((workers) => ({ workers, pg: true }))]
    : [WORKERS.map((workers) => ({ workers }))];
  for (const paddockTargets of PEER ? passes : []) {
    const budgetS = TIMEOUT_S - (Date.now() - t0) / 1000 - 20;
    log(
      `peer comparison${PG ? (paddockTargets[0].pg ? ', PostgreSQL' : ', SQLite') : ''} (budget ${budgetS.toFixed(0)} s)`,
    );
    const peer = await runPeer({
      repoRoot: REPO_ROOT,
      paddockTargets,
      scenarios: SCENARIOS,
      durationS: DURATION,
      warmupS: WARMUP_S,
      conc: CONC,
      budgetS,
      log,
      onChild: (c) => {
        peerChild = c;
      },
    });
    peerChild = undefined;
    await unlessStopping();
    if (peer.skipped) {
      console.log(`\n${peer.skipped}`);
    } else {
      console.log(`\n===== peer harness (${peerDir(REPO_ROOT)}, run in ${peer.workDir}) =====`);
      console.log(peer.stdout.trim() || '(no table printed)');
      if (peer.code !== 0) {
        exitCode = 1;
        console.log(
          `\npeer harness exited with code ${peer.code}${peer.code === 124 ? ' (run.sh timeout)' : ''}; see the [peer] log above`,
        );
      }
      const load = peer.rows.filter((r) => r.type === 'load');
      const isPeer = (r) => !r.group.startsWith('paddock');
      const peerName = load.find(isPeer)?.group ?? 'oidc-provider';
      // What each Paddock row is compared with: the same scenario and concurrency on the peer; the
      // bearer call against the harness's resource-server row (Fastify + jose on the peer's tokens).
      const kindOf = (r) =>
        r.scenario ?? (r.label.startsWith('C: resource-server') ? 'C-rs' : r.label.slice(0, 12));
      const peerKind = (k) => (k === 'C-bearer' ? 'C-rs' : k);
      // Server CPU time per response (all threads): less sensitive to a busy machine than req/s.
      const cpuMs = (r) => (r.rps > 0 ? ((r.serverCpuPct * 10) / r.rps).toFixed(2) : '-');
      const out = [];
      for (const p of load.filter((r) => !isPeer(r) && kindOf(r) !== 'C-rs')) {
        const q = load.find(
          (r) => isPeer(r) && kindOf(r) === peerKind(kindOf(p)) && r.connections === p.connections,
        );
        const mark = (r) => (r.otherCpuPct > 25 ? '*' : '');
        out.push([
          kindOf(p),
          p.group,
          p.connections,
          `${fmtInt(p.rps)}${mark(p)}`,
          fmtMs(p.latencyMs.p50),
          fmtMs(p.latencyMs.p99),
          `${p.non2xx}/${p.errors}`,
          fmtInt(p.serverCpuPct),
          q ? `${fmtInt(q.rps)}${mark(q)}` : '-',
          q ? fmtMs(q.latencyMs.p50) : '-',
          q ? fmtMs(q.latencyMs.p99) : '-',
          q ? `${q.non2xx}/${q.errors}` : '-',
          q ? fmtInt(q.serverCpuPct) : '-',
          q ? `${(p.rps / q.rps).toFixed(2)}x` : '-',
          cpuMs(p),
          q ? cpuMs(q) : '-',
          fmtInt(p.otherCpuPct),
          // The host's share, in the Paddock run and in the peer's (a harness without the patch: '-').
          `${fmtInt(p.stealPct)}/${q ? fmtInt(q.stealPct) : '-'}`,
        ]);
        if (p.non2xx || p.errors || q?.non2xx || q?.errors) exitCode = 1;
      }
      if (out.length) {
        console.log(
          `\nSide by side, same peer-harness run, interleaved; ${DURATION} s per run. A = refresh_token grant (rotation),\n` +
            'B = authorization_code + PKCE (confidential), B-pub = the same for a public client, C-bearer = GET\n' +
            "/oauth2/iracing/profile with a Bearer JWT (vs the peer harness's resource server: Fastify + jose jwtVerify)",
        );
        console.log(
          table(
            [
              'scen',
              'server',
              'conc',
              'req/s',
              'p50 ms',
              'p99 ms',
              'non2xx/err',
              'srvCPU%',
              `${peerName} req/s`,
              'p50 ms',
              'p99 ms',
              'non2xx/err',
              'srvCPU%',
              'ratio',
              'cpu ms/req',
              'peer cpu ms/req',
              'othCPU%',
              'steal% P/peer',
            ],
            [8, 13, 4, 9, 7, 7, 10, 7, Math.max(12, peerName.length + 6), 7, 7, 10, 7, 7, 10, 15, 7, 13],
            out,
          ),
        );
        console.log(
          'ratio = Paddock req/s / peer req/s within the peer run (> 1: Paddock is faster). * = other work used > 25% of a core',
        );
        console.log(
          'during that run (contended; read as a lower bound); othCPU% = the rest of the machine during the Paddock run (200 in all);',
        );
        console.log(
          'cpu ms/req = server CPU time (all threads) per response: on a busy machine a steadier comparison than req/s.',
        );
        console.log(
          "steal% P/peer = CPU time the host took from this virtual machine (othCPU% counts it as busy), in Paddock's run / the peer's:\n" +
            'a row slow while the host took much was slowed by the host, not by other processes here.',
        );
        if (peer.sanity) {
          for (const [name, checks] of Object.entries(peer.sanity)) {
            console.log(
              `peer-run sanity ${name}: ${Object.entries(checks)
                .map(([k, v]) => `${k}=${v}`)
                .join('; ')}`,
            );
          }
        }
        if (peer.resultsFile) console.log(`peer results: ${peer.resultsFile} (and .txt)`);
      } else {
        exitCode = 1;
        console.log('\nno Paddock rows in the peer results; no ratio (see the [peer] log above)');
      }
    }
  }
  await unlessStopping();
  console.log(
    `\ndisk after the runs: ${describeSyncLatency(await settledSyncLatency())} (before: p50 ${diskBefore.p50.toFixed(2)} ms);` +
      '\nPaddock answers once its commit is on disk: its c=10 rows move with the latency under load, a few times these' +
      '\nidle figures (see bench/README.md).',
  );
} catch (err) {
  exitCode = 1;
  // After a signal or the hard timeout, the failure is the stop itself: bail() reports and exits.
  if (!exiting) console.error(`\nbenchmark failed: ${err?.stack || err}`);
} finally {
  if (!exiting) {
    clearTimeout(hardTimer);
    await cleanup();
  }
}
if (!exiting) {
  log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exit(exitCode);
}
