// The peer comparison: runs the oidc-provider peer harness (its directory in PADDOCK_PEER_HARNESS)
// with bench/paddock-target.mjs (and with --pg bench/paddock-pg-target.mjs) as further targets, and
// reads its results.
//
// The shared folder is never written to: it is copied (without node_modules/results) into a cache
// directory under the OS temp dir, keyed by its package.json + package-lock.json, where run.sh can
// `npm ci` once and later runs reuse node_modules (BENCH_SKIP_INSTALL=1).
//
// The harness has no scenario selection: it runs A, B and B-pub and, in its sanity checks, mints
// authorization codes on every target, which Paddock cannot do yet. The copy therefore gets a
// small, checked patch adding `--scenarios=A[,B,B-pub,C]` (B checks and scenarios B/B-pub/C only
// run when selected). If the harness ever gains its own `--scenarios` flag, the patch is skipped;
// if the code it patches has changed, the peer run stops with a clear message instead of
// guessing.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export function peerDir(repoRoot) {
  // The harness is not part of this repository: its directory is given, absolute or relative to the repo.
  const dir = process.env.PADDOCK_PEER_HARNESS;
  return dir ? resolve(repoRoot, dir) : resolve(repoRoot, 'bench/peer-harness-not-configured');
}

const SKIP = new Set(['node_modules', 'results', 'data', '.git']);

function copyTree(src, dst) {
  mkdirSync(dst, { recursive: true });
  chmodSync(dst, 0o755);
  for (const name of readdirSync(src)) {
    if (SKIP.has(name)) continue;
    const s = join(src, name);
    const d = join(dst, name);
    const st = statSync(s);
    if (st.isDirectory()) copyTree(s, d);
    else if (st.isFile()) {
      if (existsSync(d)) chmodSync(d, 0o644);
      writeFileSync(d, readFileSync(s));
      chmodSync(d, (st.mode & 0o755) | 0o600);
    }
  }
}

// [before, after] pairs; every `before` must occur exactly once in bench.mjs.
const PATCHES = [
  [
    // Targets that offer their own bearer endpoint (Paddock: /oauth2/iracing/profile) are measured
    // there, with the targets still up, beside the harness's resource-server row of scenario C.
    '} finally {\n  for (const target of targets) await target.stop();\n}',
    "  if (SCENARIO_ON('C')) {\n" +
      '    for (const c of CONC) {\n' +
      '      for (const target of targets.filter((t) => t.bearer)) {\n' +
      '        const tokens = target.bearerTokens || (target.bearerTokens = await target.bearer.tokens(200));\n' +
      '        const run = (connections, durationS, gate = true) => (gate ? load : runLoad)({\n' +
      "          baseUrl: target.baseUrl, path: target.bearer.path, method: 'GET', connections, durationS, serverPid: target.pid,\n" +
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source code for the patched harness
      '          headersFor: (k) => ({ authorization: `Bearer ${tokens[k % tokens.length]}` }),\n' +
      '        });\n' +
      '        if (!target.bearerWarm) { await run(10, WARMUP_S, false); target.bearerWarm = true; }\n' +
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source code for the patched harness
      "        loadRow(target.name, target.bearer.label, await measured(`${target.name} bearer c=${c}`, () => run(c, DURATION)), { scenario: 'C-bearer' });\n" +
      '      }\n' +
      '    }\n' +
      // The harness's own scenario C verifies access tokens after the targets stop; they live 600 s,
      // and a run with every scenario on PostgreSQL can take longer, so they are minted last.
      '    for (const target of targets.filter((t) => !t.bearer)) target.verifyInput = await collectVerifyInput(target);\n' +
      '  }\n' +
      '} finally {\n  for (const target of targets) await target.stop();\n}',
  ],
  [
    "const SKIP_FLOORS = argv['skip-floors'] === 'true';",
    "const SKIP_FLOORS = argv['skip-floors'] === 'true';\n" +
      '// [patched by paddock bench/lib/peer.mjs] --scenarios=A[,B,B-pub,C]: run only these (default all).\n' +
      "const SCENARIO_SET = argv.scenarios ? new Set(argv.scenarios.split(',')) : null;\n" +
      'const SCENARIO_ON = (id) => !SCENARIO_SET || SCENARIO_SET.has(id);',
  ],
  [
    "  const codes = await target.mintCodes('confidential', 2);",
    "  if (SCENARIO_ON('B') || SCENARIO_ON('B-pub')) {\n  const codes = await target.mintCodes('confidential', 2);",
  ],
  [
    "  check('B-pub: public client code + verifier -> 200', p1.status === 200 && p1.json.access_token, JSON.stringify(p1.json));",
    "  check('B-pub: public client code + verifier -> 200', p1.status === 200 && p1.json.access_token, JSON.stringify(p1.json));\n  }",
  ],
  [
    '    target.verifyInput = await collectVerifyInput(target);',
    '    // [patched by paddock bench/lib/peer.mjs] minted once the load rows are done (see scenario C).',
  ],
  ['  for (const sc of SCENARIOS) {', '  for (const sc of SCENARIOS.filter((s) => SCENARIO_ON(s.id))) {'],
  [
    // --warmup=S: the warm-up of each target and scenario lasts up to S seconds (the harness's 3 by
    // default) and up to 4,000 requests per 3 s of it. The harness's own 4,000 warm a single process;
    // with two workers each sees half, and the first measured run then pays for the rest of its JIT
    // compilation (see bench/README.md, "Warm-up").
    'const WARMUP_S = QUICK ? 1 : 3;',
    '// [patched by paddock bench/lib/peer.mjs] --warmup=S (default 3).\n' +
      'const WARMUP_S = QUICK ? 1 : Number(argv.warmup || 3);',
  ],
  [
    '  const bodies = await mintBodies(target, sc, 4000);',
    '  const bodies = await mintBodies(target, sc, Math.max(4000, Math.round((4000 * WARMUP_S) / 3)));',
  ],
  [
    // Targets with their own bearer row (Paddock's) skip the harness's resource server on their tokens:
    // only the peer's row is compared, and each skipped target saves ~30 s.
    "// Scenario C: verification cost of each target's access tokens, with the targets stopped.\nfor (const target of targets) {",
    "// Scenario C: verification cost of each target's access tokens, with the targets stopped.\nfor (const target of (SCENARIO_ON('C') ? targets.filter((t) => !t.bearer) : [])) {",
  ],
  [
    // Pools of 2.5 x the best rate so far x duration (+ 3000) instead of 2 x, and 4 x above c=10. The
    // best rate is the target's own so far, so a c=50 run is sized by its c=10 run, and Paddock with two
    // workers answers up to 2.9 times as many at c=50 (5,400 req/s against 1,845 on a slower 2-core
    // machine, where a pool of 2.5 x ran out after 9.1 s of 10; 12,848 against 5,725 on a faster one,
    // where 1.5 x ran out after 7.3 s). Minting (~5,000-16,000 bodies/s) is most of a run's overhead.
    '    const n = Math.min(400_000, Math.ceil(rate * DURATION * 2) + 3000);',
    '    const n = Math.min(400_000, Math.ceil(rate * DURATION * (c > 10 ? 4 : 2.5)) + 3000);',
  ],
];

// The harness's CPU column reads the server's PID alone; Paddock with workers is a primary (idle) and its
// worker processes: the copy's procCpuSeconds sums the whole process tree (bench/lib/proc.mjs), which for
// a single-process server such as the peer is the same figure as before.
function patchProc(file) {
  const ours = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'proc.mjs')).href;
  const before = 'export function procCpuSeconds(pid) {';
  const after =
    `// [patched by paddock bench/lib/peer.mjs] CPU of the process and all its descendants.\n` +
    `import { procCpuSeconds as treeCpuSeconds } from '${ours}';\n` +
    'export function procCpuSeconds(pid) {\n  return treeCpuSeconds(pid);\n}\n' +
    'export function procCpuSecondsOneProcess(pid) {';
  writeFileSync(
    file,
    applyPatches(readFileSync(file, 'utf8'), [[before, after]], file, 'count process trees in'),
  );
}

// One small target module per Paddock configuration (the harness takes module paths), written into the
// work dir: each calls bench/paddock-target.mjs's createTarget with its options.
function writeTargets(work, paddockTargets) {
  const lib = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', 'paddock-target.mjs')).href;
  return paddockTargets.map((opts) => {
    const name = `${opts.pg ? 'paddock-pg' : 'paddock'}${opts.workers ? `-w${opts.workers}` : ''}`;
    const file = join(work, 'targets', `${name}.mjs`);
    writeFileSync(
      file,
      `// Written by paddock bench/lib/peer.mjs.\nimport { createTarget as paddock } from '${lib}';\n` +
        `export const createTarget = () => paddock(${JSON.stringify(opts)});\n`,
    );
    return file;
  });
}

function patchBench(file) {
  const src = readFileSync(file, 'utf8');
  if (/argv\.scenarios|argv\['scenarios'\]/.test(src))
    return 'harness has its own --scenarios flag (or is already patched)';
  writeFileSync(file, applyPatches(src, PATCHES, file, 'add --scenarios to'));
  return 'patched a copy of bench.mjs to add --scenarios';
}

/** `src` with each [before, after] applied; each `before` must occur exactly once. */
function applyPatches(src, patches, file, what) {
  for (const [before, after] of patches) {
    const first = src.indexOf(before);
    if (first < 0 || src.indexOf(before, first + 1) >= 0) {
      throw new Error(
        `cannot ${what} ${file}: expected exactly one occurrence of:\n  ${before.split('\n').pop()}\n(the harness changed; update bench/lib/peer.mjs)`,
      );
    }
    src = src.slice(0, first) + after + src.slice(first + before.length);
  }
  return src;
}

// Each load row of the harness also gets stealPct: the CPU time the host took from this VM during the
// run (100 = one core), as bench/lib/load.mjs reports it for Paddock's own runs. The harness counts it in
// otherCpuPct with every other process; apart, it says when a row was slow because the host was busy.
function patchLoad(file) {
  const ours = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'proc.mjs')).href;
  const src = readFileSync(file, 'utf8');
  const patches = [
    [
      '  const machine0 = machineCpuSeconds();',
      '  const machine0 = machineCpuSeconds();\n  const steal0 = machineStealSeconds();',
    ],
    [
      '  const machine1 = machineCpuSeconds();',
      '  const machine1 = machineCpuSeconds();\n  const steal1 = machineStealSeconds();',
    ],
    [
      '    otherCpuPct: machineBusyPct - ',
      '    stealPct: ((steal1 - steal0) / ((performance.now() - t0) / 1000)) * 100,\n    otherCpuPct: machineBusyPct - ',
    ],
  ];
  writeFileSync(
    file,
    `// [patched by paddock bench/lib/peer.mjs] steal time per load run.\nimport { machineStealSeconds } from '${ours}';\n${applyPatches(src, patches, file, 'add steal time to')}`,
  );
}

/**
 * Runs the peer harness. Returns { skipped } when the harness directory is missing, else
 * { code, stdout, rows, sanity, meta, workDir, resultsFile }.
 * @param {object} o
 * @param {string} o.repoRoot
 * @param {object[]} o.paddockTargets  one createTarget options object per Paddock target ({ workers, pg })
 * @param {string[]} o.scenarios  harness scenarios to run (A, B, B-pub, C)
 * @param {number} o.durationS
 * @param {number} o.warmupS      warm-up per target and scenario, at most (see the --warmup patch)
 * @param {number[]} o.conc
 * @param {number} o.budgetS      cap for run.sh (BENCH_MAX_S)
 * @param {(m: string) => void} o.log
 * @param {(child: import('node:child_process').ChildProcess) => void} o.onChild  for cleanup on signals/timeouts
 */
export async function runPeer(o) {
  const src = peerDir(o.repoRoot);
  if (!existsSync(join(src, 'bench.mjs')) || !existsSync(join(src, 'run.sh'))) {
    return {
      skipped: `peer harness not found at ${src} (expected bench.mjs and run.sh there); skipping the peer comparison`,
    };
  }
  const key = createHash('sha256');
  for (const f of ['package.json', 'package-lock.json'])
    if (existsSync(join(src, f))) key.update(readFileSync(join(src, f)));
  const work = join(tmpdir(), `paddock-peer-bench-${key.digest('hex').slice(0, 12)}`);
  copyTree(src, work);
  o.log(`peer harness copied from ${src} to ${work}; ${patchBench(join(work, 'bench.mjs'))}`);
  patchProc(join(work, 'lib/proc.mjs'));
  patchLoad(join(work, 'lib/load.mjs'));
  const targetPaths = writeTargets(work, o.paddockTargets);
  const installed = existsSync(join(work, 'node_modules/oidc-provider/package.json'));
  o.log(
    installed
      ? 'peer: reusing node_modules (BENCH_SKIP_INSTALL=1)'
      : 'peer: first run here, run.sh installs dependencies (npm ci)',
  );

  const args = [
    'run.sh',
    '--skip-floors',
    `--targets=${['oidc-provider', ...targetPaths].join(',')}`,
    `--duration=${o.durationS}`,
    `--warmup=${o.warmupS}`,
    `--conc=${o.conc.join(',')}`,
    `--scenarios=${o.scenarios.join(',')}`,
  ];
  o.log(`peer: bash ${args.join(' ')}  (cwd ${work})`);
  const started = Date.now();
  const child = spawn('bash', args, {
    cwd: work,
    // Own process group, so a stop can reach run.sh, the harness and the servers it started.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      BENCH_SKIP_INSTALL: installed ? '1' : '0',
      BENCH_MAX_S: String(Math.max(60, Math.floor(o.budgetS))),
    },
  });
  o.onChild(child);
  let stdout = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  let pending = '';
  child.stderr.on('data', (d) => {
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const l of lines) process.stderr.write(`  [peer] ${l}\n`);
  });
  const code = await new Promise((r) => child.on('exit', (c, sig) => r(c ?? (sig ? 128 : 1))));
  if (pending) process.stderr.write(`  [peer] ${pending}\n`);

  // The newest results/run-*.json written by this run.
  const resDir = join(work, 'results');
  let resultsFile;
  if (existsSync(resDir)) {
    const candidates = readdirSync(resDir)
      .filter((f) => /^run-.*\.json$/.test(f))
      .map((f) => ({ f: join(resDir, f), t: statSync(join(resDir, f)).mtimeMs }))
      .filter((x) => x.t >= started - 1000)
      .sort((a, b) => b.t - a.t);
    resultsFile = candidates[0]?.f;
  }
  const parsed = resultsFile ? JSON.parse(readFileSync(resultsFile, 'utf8')) : {};
  return {
    code,
    stdout,
    rows: parsed.rows || [],
    sanity: parsed.sanity,
    meta: parsed.meta,
    workDir: work,
    resultsFile,
  };
}
