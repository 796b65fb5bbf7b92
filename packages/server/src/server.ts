import type { FastifyInstance } from 'fastify';
import { type Clock, seconds, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import type { AppContext } from './context.ts';
import { buildApp } from './http/app.ts';
import { SWEEP_JOB, scheduleInactivitySweep } from './jobs/inactivity-sweep.ts';
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

/** Opens the store, loads the keys and listens. */
export async function startServer(config: Config, clock: Clock = systemClock): Promise<RunningServer> {
  const ctx = await createContext(config, clock);
  const { store, keys } = ctx;
  keys.startRefreshing(config.keys.refreshInterval);
  const app = await buildApp(ctx);
  const sweep = setInterval(() => {
    store.deleteExpiredCounters(seconds(clock) - 86400).catch(() => {});
    store.deleteExpiredFlowState(seconds(clock)).catch(() => {});
  }, 3600_000);
  sweep.unref();
  const inactivity = scheduleInactivitySweep(ctx, app.log.child({ job: SWEEP_JOB }));
  const address = await app.listen({ host: config.host, port: config.port });
  return {
    app,
    ctx,
    url: address,
    async close() {
      clearInterval(sweep);
      await inactivity.stop();
      keys.stop();
      await app.close();
      await store.close();
    },
  };
}
