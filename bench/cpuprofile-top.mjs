#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof) by self time: the functions the main thread was
// actually executing, aggregated by name + script position, with their share of the busy samples
// (idle left out). Native calls (better-sqlite3's statements, fsync in COMMIT) count as self time of
// the JavaScript function that made them. Positions in TypeScript files are tsx's generated code.
//
//   node bench/cpuprofile-top.mjs <file.cpuprofile> [--top=10]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * @param {object} profile  a parsed .cpuprofile
 * @param {number} [top]
 * @param {{ fromUs: number, toUs: number }} [window]  only samples in this interval of the monotonic
 *   clock (microseconds, as the profile's own timestamps and process.hrtime), e.g. one load run
 */
export function summarise(profile, top = 10, window) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map(); // node id -> microseconds
  const { samples, timeDeltas } = profile;
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i];
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    // timeDeltas[i] is the time before sample i; charge the interval after it to the sample.
    const dt = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(dt, 0));
  }
  const agg = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame;
    // Waiting for work is not work: shares are of the time the thread was busy.
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const where = cf.url
      ? `${shorten(cf.url)}:${cf.lineNumber + 1}:${cf.columnNumber + 1}${snippet(cf.url, cf.lineNumber, cf.columnNumber)}`
      : '';
    const key = `${cf.functionName || '(anonymous)'}\t${where}`;
    agg.set(key, (agg.get(key) ?? 0) + us);
    total += us;
  }
  const rows = [...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    rows: rows.map(([key, us]) => {
      const [fn, where] = key.split('\t');
      return { fn, where, ms: us / 1000, pct: (us / total) * 100 };
    }),
  };
}

// tsx runs TypeScript as esbuild output with whitespace minified (one line per file), so a position
// in a .ts file names a column of that output: show the code there, compiled the same way.
const require = createRequire(import.meta.url);
const compiled = new Map();
function snippet(url, line, column) {
  if (!url.startsWith('file://') || !url.endsWith('.ts')) return '';
  let code = compiled.get(url);
  if (code === undefined) {
    try {
      const { transformSync } = require('esbuild');
      code = transformSync(readFileSync(fileURLToPath(url), 'utf8'), {
        loader: 'ts',
        format: 'esm',
        minifyWhitespace: true,
        keepNames: true,
        target: 'node20',
      }).code.split('\n');
    } catch {
      code = null;
    }
    compiled.set(url, code);
  }
  const text = code?.[line]?.slice(column, column + 60);
  return text ? `  ${text}` : '';
}

function shorten(url) {
  let p = url;
  try {
    if (p.startsWith('file://')) p = fileURLToPath(p);
  } catch {
    /* keep */
  }
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) return p.slice(nm + 'node_modules/'.length);
  if (p.startsWith('/')) return relative(process.cwd(), p);
  return p;
}

export function formatSummary(s) {
  const lines = [
    `busy ${s.totalMs.toFixed(0)} ms (idle ${s.idleMs.toFixed(0)} ms left out); top ${s.rows.length} by self time, % of busy:`,
  ];
  lines.push('  self %   self ms  function  (where)');
  for (const r of s.rows)
    lines.push(
      `  ${r.pct.toFixed(1).padStart(6)}  ${r.ms.toFixed(0).padStart(8)}  ${r.fn}${r.where ? `  (${r.where})` : ''}`,
    );
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 10);
  if (!file) {
    console.error('usage: node bench/cpuprofile-top.mjs <file.cpuprofile> [--top=10]');
    process.exit(2);
  }
  console.log(formatSummary(summarise(JSON.parse(readFileSync(file, 'utf8')), top)));
}
