// Closed-loop HTTP load with autocannon (HTTP/1.1 keep-alive, no pipelining, `connections`
// connections each with one request in flight), bounded by time and by a pool of single-use
// request bodies: every body is handed out at most once, never re-sent.
//
// Why that holds with autocannon 8: each connection builds its first request up front (one
// setupRequest call) and one more per request it sends; with `amount` = pool size, a connection
// stops before asking for more than its share (amount / connections), so the calls never exceed
// the pool. A connection that times out or is closed reconnects with the *next* body, never the
// old one. Should the pool ever be overrun anyway, an obviously invalid body is sent instead (it
// shows up as non-2xx and as `overrun`), never a used credential. `amount` makes autocannon
// ignore `duration`, so the wall-clock cap is our own timer.
import autocannon from 'autocannon';

import { machineBusySeconds, machineStealSeconds, procCpuSeconds, selfCpuSeconds } from './proc.mjs';

function percentile(sorted, p) {
  if (!sorted.length) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

/**
 * @param {object} o
 * @param {string} o.baseUrl       http://127.0.0.1:PORT (loopback only)
 * @param {string} o.path
 * @param {object} o.headers
 * @param {string[]} o.bodies      single-use bodies, consumed in order, each at most once
 * @param {number} o.connections
 * @param {number} o.durationS     wall-clock cap
 * @param {number} [o.serverPid]   for server CPU %
 * @param {boolean} [o.bearer]     GET requests, each entry of `bodies` sent as the Bearer token of one
 */
export async function runLoad(o) {
  const url = new URL(o.baseUrl);
  if (url.hostname !== '127.0.0.1')
    throw new Error(`refusing to load a non-loopback address: ${url.hostname}`);
  const pool = o.bodies;
  if (pool.length < o.connections)
    throw new Error(`pool of ${pool.length} bodies is smaller than ${o.connections} connections`);
  let next = 0;
  const lat = new Float64Array(pool.length + o.connections * 2);
  let n = 0;
  let n2xx = 0;
  const statusCounts = {};
  const samples = {}; // a few non-2xx response bodies per status, for the report
  let lastAt = 0;

  const request = {
    method: o.bearer ? 'GET' : 'POST',
    path: o.path,
    headers: o.headers,
    setupRequest: (req) => {
      const entry = next < pool.length ? pool[next] : 'grant_type=__pool_overrun__';
      if (o.bearer) req.headers = { ...o.headers, authorization: `Bearer ${entry}` };
      else req.body = entry;
      next += 1;
      return req;
    },
    onResponse: (status, body) => {
      if (status >= 200 && status < 300) return;
      if (!samples[status]) samples[status] = [];
      const s = samples[status];
      if (s.length < 3) s.push(String(body).slice(0, 300));
    },
  };

  const cpuServer0 = procCpuSeconds(o.serverPid);
  const cpuSelf0 = selfCpuSeconds();
  const machine0 = machineBusySeconds();
  const steal0 = machineStealSeconds();
  const t0 = performance.now();

  const instance = autocannon({
    url: url.origin,
    connections: o.connections,
    pipelining: 1,
    duration: o.durationS,
    amount: pool.length,
    requests: [request],
    timeout: 10,
    excludeErrorStats: false,
  });
  const stopTimer = setTimeout(() => instance.stop(), o.durationS * 1000);

  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    lastAt = performance.now();
    if (n < lat.length) lat[n] = responseTime;
    n += 1;
    if (statusCode >= 200 && statusCode < 300) n2xx += 1;
    statusCounts[statusCode] = (statusCounts[statusCode] || 0) + 1;
  });

  const result = await new Promise((resolve, reject) => {
    instance.on('done', resolve);
    instance.on('error', reject);
  });
  clearTimeout(stopTimer);

  // Traffic window: start to last response (autocannon may idle up to 1 s after a pool runs dry).
  const tEnd = performance.now();
  const windowS = ((lastAt || tEnd) - t0) / 1000;
  const wallS = (tEnd - t0) / 1000;
  const cpuServer = procCpuSeconds(o.serverPid) - cpuServer0;
  const cpuSelf = selfCpuSeconds() - cpuSelf0;
  const machineBusy = machineBusySeconds() - machine0;
  const steal = machineStealSeconds() - steal0;
  const sorted = Float64Array.from(lat.subarray(0, Math.min(n, lat.length))).sort();
  return {
    connections: o.connections,
    durationS: o.durationS,
    windowS,
    responses: n,
    ok: n2xx,
    non2xx: n - n2xx,
    statusCounts,
    samples,
    errors: result.errors,
    timeouts: result.timeouts,
    poolSize: pool.length,
    sent: Math.min(next, pool.length),
    overrun: Math.max(0, next - pool.length),
    poolUsedUp: next >= pool.length,
    rps: windowS > 0 ? n / windowS : 0,
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
    },
    serverCpuPct: (cpuServer / windowS) * 100,
    loadgenCpuPct: (cpuSelf / windowS) * 100,
    // The rest of the machine (other processes, kernel softirq for loopback TCP), 100 = one core.
    otherCpuPct: ((machineBusy - cpuServer - cpuSelf) / wallS) * 100,
    // The host's share: CPU time this VM was ready to use and did not get (othCPU% counts it as busy).
    stealPct: (steal / wallS) * 100,
  };
}
