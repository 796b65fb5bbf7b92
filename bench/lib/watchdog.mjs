// Preloaded into the benchmarked Paddock process (`node --import bench/lib/watchdog.mjs ...`) so a
// server started by the benchmark can never outlive it: the server stops itself (SIGTERM, i.e. its
// own graceful shutdown, then a hard exit 3 s later) when its stdin pipe closes (the benchmark is
// gone, however it died) or after BENCH_MAX_LIFETIME_S seconds (default 900). Adds no work to
// requests: one idle stdin listener and one unref'd timer.
const maxLifetimeS = Number(process.env.BENCH_MAX_LIFETIME_S || 900);

let stopping = false;
function stopSelf(why) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`[bench watchdog] ${why}: stopping the server\n`);
  setTimeout(() => process.exit(1), 3000).unref();
  process.kill(process.pid, 'SIGTERM');
}

setTimeout(() => stopSelf(`lifetime of ${maxLifetimeS} s reached`), maxLifetimeS * 1000).unref();
process.stdin.on('end', () => stopSelf('stdin closed (benchmark gone)'));
process.stdin.on('error', () => stopSelf('stdin error (benchmark gone)'));
process.stdin.resume();
// Idle stdin must not keep the process alive by itself once the server has closed.
process.stdin.unref?.();
