import type { FastifyInstance } from 'fastify';
import { type Clock, seconds, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import type { AppContext } from './context.ts';
import { buildApp } from './http/app.ts';
import { type Logger, logFailure } from './log.ts';
import { openStore } from './store/index.ts';
import { KeyRing } from './tokens/keys.ts';
import { deriveKey, loadMasterKey } from './tokens/master-key.ts';

export interface RunningServer {
  app: FastifyInstance;
  ctx: AppContext;
  url: string;
  close(): Promise<void>;
}

/** Everything a handler needs: the migrated store, the signing keys, and the keys derived from the master key. */
export async function createContext(config: Config, clock: Clock = systemClock): Promise<AppContext> {
  const store = await openStore(config, seconds(clock));
  const masterKey = loadMasterKey(config);
  const keys = new KeyRing(store, masterKey, () => seconds(clock));
  await keys.init();
  return { config, store, clock, keys, csrfKey: deriveKey(masterKey, 'csrf') };
}

/** Deletes spent rate-limit counters and flow state; a failure is logged and the next sweep tries again. */
export async function sweepExpired(ctx: AppContext, log: Logger): Promise<void> {
  const now = seconds(ctx.clock);
  await ctx.store
    .deleteExpiredCounters(now - 86400)
    .catch(logFailure(log, 'sweep of expired rate-limit counters failed'));
  await ctx.store
    .deleteExpiredFlowState(now)
    .catch(logFailure(log, 'sweep of expired authorization requests and codes failed'));
}

/** Opens the store, loads the keys and listens. */
export async function startServer(config: Config, clock: Clock = systemClock): Promise<RunningServer> {
  const ctx = await createContext(config, clock);
  const { store, keys } = ctx;
  const app = await buildApp(ctx);
  keys.startRefreshing(config.keys.refreshInterval, app.log);
  const sweep = setInterval(() => void sweepExpired(ctx, app.log), 3600_000);
  sweep.unref();
  const address = await app.listen({ host: config.host, port: config.port });
  return {
    app,
    ctx,
    url: address,
    /** Stops everything, each step even if one before it failed; failures are logged, then thrown. */
    async close() {
      clearInterval(sweep);
      keys.stop();
      let failed = false;
      const step = (what: string) => (err: unknown) => {
        failed = true;
        logFailure(app.log, what)(err);
      };
      await app.close().catch(step('shutdown: closing the HTTP server failed'));
      await store.close().catch(step('shutdown: closing the store failed'));
      if (failed) throw new Error('shutdown did not complete cleanly (see the log)');
    },
  };
}
