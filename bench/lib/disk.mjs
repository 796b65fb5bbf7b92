// The disk's commit latency where the benchmark's stores live (the system's temp directory): 4 KiB written
// and fdatasync'd, n times in a row, over blocks written before, as a commit does once the WAL is reused
// from its start (appending to a growing file also syncs its new size and blocks: 1.5-2 x slower on
// the 2-vCPU VM measured). Paddock answers a token request only once its
// commit is on disk, so at low concurrency its req/s follows the disk's sync latency (see bench/README.md);
// the peer keeps everything in memory and does not. On a virtual machine that latency moves from minute to
// minute: printed before and after the runs, this says what disk the rows were measured on and whether it
// changed meanwhile.
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Milliseconds per write + fdatasync: { p50, p90, max }. */
export function syncLatency(n = 200) {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-bench-disk-'));
  const block = Buffer.alloc(4096, 1);
  const ms = [];
  try {
    const fd = openSync(join(dir, 'probe'), 'w');
    try {
      writeSync(fd, Buffer.alloc(n * block.length, 1), 0, n * block.length, 0);
      fdatasyncSync(fd);
      for (let i = 0; i < n; i++) {
        const start = process.hrtime.bigint();
        writeSync(fd, block, 0, block.length, i * block.length);
        fdatasyncSync(fd);
        ms.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  return { p50: at(0.5), p90: at(0.9), max: ms[ms.length - 1] };
}

export function describeSyncLatency(s) {
  return `4 KiB write + fdatasync in the temp dir: p50 ${s.p50.toFixed(2)} ms, p90 ${s.p90.toFixed(2)} ms, max ${s.max.toFixed(2)} ms`;
}
