#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof) by self time: the functions the main thread was
// actually executing, aggregated by name + script + line, with their share of all samples.
//
//   node bench/cpuprofile-top.mjs <file.cpuprofile> [--top=10]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export function summarise(profile, top = 10) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map(); // node id -> microseconds
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; charge the interval to the sample that ends it.
    const dt = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(dt, 0));
  }
  const agg = new Map();
  let total = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame;
    const where = cf.url ? `${shorten(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}\t${where}`;
    agg.set(key, (agg.get(key) ?? 0) + us);
    total += us;
  }
  const rows = [...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    totalMs: total / 1000,
    rows: rows.map(([key, us]) => {
      const [fn, where] = key.split('\t');
      return { fn, where, ms: us / 1000, pct: (us / total) * 100 };
    }),
  };
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
  const lines = [`total sampled ${s.totalMs.toFixed(0)} ms; top ${s.rows.length} by self time:`];
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
