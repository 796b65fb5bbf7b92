// `npm test`: lint and type-check, run every test file with node's test runner, then audit the logs
// the run captured for secrets, and close with one summary line.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
process.chdir(root);
fs.rmSync('test-output/logs', { recursive: true, force: true });
fs.rmSync('test-output/secrets', { recursive: true, force: true });

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    stdio: opts.capture ? ['inherit', 'pipe', 'inherit'] : 'inherit',
    ...opts,
  });
  if (opts.capture) process.stdout.write(r.stdout);
  return r;
}

const only = process.argv.slice(2);
// The client SDK's dist/ is what `@paddock/client` resolves to: build it before anything imports it.
console.log('# build: @paddock/client');
if (run('npm', ['run', 'build', '-w', '@paddock/client']).status !== 0) process.exit(1);
if (only.length === 0) {
  console.log('# lint: biome check, tsc --noEmit');
  if (run('npx', ['biome', 'check', '.']).status !== 0) process.exit(1);
  for (const p of ['packages/server', 'packages/client', 'examples']) {
    if (run('npx', ['tsc', '-p', p, '--noEmit']).status !== 0) process.exit(1);
  }
}

const files = (
  only.length
    ? only
    : ['packages', 'examples']
        .filter((dir) => fs.existsSync(dir))
        .flatMap((dir) => fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f))))
        .filter((f) => f.endsWith('.test.ts') && !f.includes('node_modules'))
        .filter((f) => !f.endsWith('log-audit.test.ts'))
).sort();

// The tests' own temporary directories (tmpDir in packages/server/test/helpers.ts): each test process
// removes what it made when it exits, and the run fails if any is left behind. A full run used to leave
// ~190 of them (134 MB) in the temp dir every time.
const TEMP_PREFIX = /^paddock-(test|sdk|geoip|examples|book)-/;
const startedMs = Date.now() - 1000;
const leftovers = () =>
  fs
    .readdirSync(os.tmpdir())
    .filter((name) => TEMP_PREFIX.test(name))
    .map((name) => path.join(os.tmpdir(), name))
    .filter((dir) => {
      try {
        const st = fs.statSync(dir);
        return (st.birthtimeMs || st.ctimeMs) >= startedMs;
      } catch {
        return false;
      }
    });

const counts = { pass: 0, fail: 0, skipped: 0 };
function tally(stdout) {
  for (const [, k, n] of String(stdout).matchAll(/^# (pass|fail|skipped) (\d+)$/gm)) counts[k] += Number(n);
}
const base = ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-timeout=420000'];
const main = run(process.execPath, [...base, '--test-concurrency=2', ...files], {
  capture: true,
  env: process.env,
});
tally(main.stdout);
if (only.length === 0) {
  const audit = run(process.execPath, [...base, 'packages/server/test/log-audit.test.ts'], { capture: true });
  tally(audit.stdout);
}
const total = counts.pass + counts.fail;
const left = leftovers();
if (left.length)
  console.log(
    `\n# ${left.length} temporary directories were left behind, e.g.:\n#   ${left.slice(0, 5).join('\n#   ')}`,
  );
console.log(`\ntests: ${counts.pass} passed, ${counts.fail} failed, ${counts.skipped} skipped`);
process.exit(counts.fail > 0 || total === 0 || main.status !== 0 || left.length ? 1 : 0);
