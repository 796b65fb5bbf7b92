// `paddock serve --workers N`: N processes serve one port and share one store (the SQLite WAL file or
// PostgreSQL), through node:cluster. The primary prepares the store once (migrations, master key, first
// signing key), forks the workers, restarts one that dies, and on SIGTERM drains them all. It never
// serves the API itself; it holds the admin listener (PADDOCK_ADMIN_PORT), whose /metrics adds up every
// worker. Nothing shared lives in one worker's memory: every rule that must hold across requests is in
// the store, and what a worker caches (the signing keys, the CORS origins) is reloaded from it.
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { type Config, ConfigError } from './config.ts';
import { installErrorHandling } from './http/errors.ts';
import { clusterMetrics, type Metrics } from './metrics/metrics.ts';
import { createContext } from './server.ts';

/** Most workers one primary runs. */
const MAX_WORKERS = 256;
/** A worker that stays up this long is healthy again: its next death restarts it without delay. */
const STABLE_MS = 10_000;
const BACKOFF_MS = [0, 250, 1000, 5000, 15000];
/** How long a worker waits for the primary's aggregated metrics. */
const METRICS_TIMEOUT_MS = 5000;

/**
 * How many processes serve: --workers, else PADDOCK_WORKERS, else `fallback` (`serve`: every core;
 * `dev`: one, so demo data and logs stay in one process).
 */
export function workerCount(flag: string | undefined, env: string | undefined, fallback: number): number {
  const raw = flag ?? env;
  if (raw === undefined || raw === '') return fallback;
  const name = flag !== undefined ? '--workers' : 'PADDOCK_WORKERS';
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_WORKERS) {
    throw new ConfigError(`${name}: expected a whole number from 1 to ${MAX_WORKERS}, got "${raw}"`);
  }
  return Number(raw);
}

export const cores = (): number => os.availableParallelism();

export const isWorker = (): boolean => cluster.isWorker;

/**
 * The primary. Resolves once every worker listens; `stop` then drains them and resolves true when each
 * one exited 0. Rejects when a worker fails before the first one listened (a port in use, a bad setting):
 * each worker has already said why on stderr.
 */
export async function runPrimary(
  config: Config,
  workers: number,
): Promise<{ stop(signal: NodeJS.Signals): Promise<boolean>; kill(): void; log: pino.Logger }> {
  const log = pino({ level: config.logLevel }).child({ role: 'primary' });
  // Migrations, the master key and the first signing key, created once before any worker starts. The
  // primary then lets go of the store: it serves nothing from it.
  const prepared = await createContext(config);
  await prepared.store.close();

  let stopping = false;
  let failures = 0;
  const startedAt = new Map<Worker, number>();
  const clean = new Set<Worker>();

  const fork = () => {
    const w = cluster.fork();
    startedAt.set(w, Date.now());
  };

  const started = new Promise<void>((resolve, reject) => {
    let listening = 0;
    const onListening = () => {
      if (++listening === workers) {
        cluster.off('listening', onListening);
        resolve();
      }
    };
    cluster.on('listening', onListening);
    cluster.on('exit', (worker, code, signal) => {
      const since = Date.now() - (startedAt.get(worker) ?? Date.now());
      startedAt.delete(worker);
      if (stopping) {
        if (code === 0) clean.add(worker);
        return;
      }
      if (listening < workers) {
        // Failing at start-up: restarting would fail again the same way.
        stopping = true;
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
        reject(new Error(`a worker could not start (exit ${code ?? signal}); see its message above`));
        return;
      }
      failures = since >= STABLE_MS ? 0 : failures + 1;
      const delay = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]!;
      log.error(
        { pid: worker.process.pid, code, signal, restart_in_ms: delay },
        'worker exited unexpectedly; starting another',
      );
      setTimeout(() => {
        if (!stopping) fork();
      }, delay).unref();
    });
  });

  // A worker's /metrics on the main port asks here for the whole server's numbers.
  cluster.on('message', (worker, m: { paddock?: string; id?: number }) => {
    if (m?.paddock !== 'metrics') return;
    clusterMetrics().then(
      ({ body }) => worker.send({ paddock: 'metrics-result', id: m.id, body }),
      (err: Error) => worker.send({ paddock: 'metrics-result', id: m.id, error: err.message }),
    );
  });

  for (let i = 0; i < workers; i++) fork();
  await started;
  const admin = config.adminPort === undefined ? undefined : await adminApp(config);
  await admin?.listen({ host: config.adminHost, port: config.adminPort });
  log.info({ workers, pid: process.pid }, 'serving with workers');

  return {
    log,
    async stop(signal) {
      stopping = true;
      const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
      const exited = alive.map(
        (w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))),
      );
      // Each worker runs the single-process shutdown: stop accepting, finish in-flight requests, close.
      for (const w of alive) w.process.kill(signal === 'SIGINT' ? 'SIGTERM' : signal);
      await Promise.all(exited);
      await admin?.close();
      return alive.every((w) => clean.has(w));
    },
    kill() {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    },
  };
}

/**
 * The primary's admin listener: /healthz (the primary is up), /readyz (asked of the workers through the
 * port they share, so it says whether a request sent now would be served) and /metrics (every worker).
 */
async function adminApp(config: Config): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: config.logLevel }, disableRequestLogging: true });
  installErrorHandling(app, config);
  app.get('/healthz', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });
  app.get('/readyz', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.port}${config.basePath}/readyz`;
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
      return reply.code(r.status).send(await r.json());
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'no worker answered' });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await clusterMetrics();
    return reply.header('Cache-Control', 'no-store').type(contentType).send(body);
  });
  return app;
}

/** In a worker: /metrics renders the whole server's metrics, collected by the primary. */
export function metricsFromPrimary(metrics: Metrics): void {
  let next = 0;
  const waiting = new Map<number, { resolve(body: string): void; reject(err: Error): void }>();
  process.on('message', (m: { paddock?: string; id: number; body?: string; error?: string }) => {
    if (m?.paddock !== 'metrics-result') return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error !== undefined) w?.reject(new Error(`collecting the workers' metrics failed: ${m.error}`));
    else w?.resolve(m.body ?? '');
  });
  metrics.renderWith(
    () =>
      new Promise<string>((resolve, reject) => {
        const id = ++next;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error('the primary did not answer with the metrics'));
        }, METRICS_TIMEOUT_MS);
        waiting.set(id, {
          resolve: (b) => {
            clearTimeout(timer);
            resolve(b);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        process.send!({ paddock: 'metrics', id });
      }),
  );
}
