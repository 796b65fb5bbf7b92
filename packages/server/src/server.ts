import type { FastifyInstance } from 'fastify';
import { type Clock, seconds, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import type { AppContext } from './context.ts';
import { buildAdminApp } from './http/admin.ts';
import { buildApp } from './http/app.ts';
import { Metrics } from './metrics/metrics.ts';
import { openStore } from './store/index.ts';
import { KeyRing } from './tokens/keys.ts';
import { deriveKey, loadMasterKey } from './tokens/master-key.ts';

export interface RunningServer {
  app: FastifyInstance;
  ctx: AppContext;
  url: string;
  /** The admin listener's address, when PADDOCK_ADMIN_PORT is set. */
  adminUrl: string | undefined;
  /**
   * Stops accepting, lets in-flight requests finish (see http/draining.ts), then closes the store. Past
   * config.shutdownTimeout it cuts the connections still open; resolves false when it had to.
   */
  close(): Promise<boolean>;
}

/** Everything a handler needs: the migrated store, the signing keys, and the keys derived from the master key. */
export async function createContext(config: Config, clock: Clock = systemClock): Promise<AppContext> {
  const store = await openStore(config, seconds(clock));
  const masterKey = loadMasterKey(config);
  const keys = new KeyRing(store, masterKey, () => seconds(clock));
  await keys.init();
  const metrics = new Metrics();
  metrics.observeStore(store, () => seconds(clock));
  return { config, store, clock, keys, csrfKey: deriveKey(masterKey, 'csrf'), metrics };
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
  const address = await app.listen({ host: config.host, port: config.port });
  // Metrics (and health) on a port of their own, when the operator keeps them off the public one.
  const admin = config.adminPort === undefined ? undefined : await buildAdminApp(ctx);
  const adminUrl = await admin?.listen({ host: config.adminHost, port: config.adminPort });
  return {
    app,
    ctx,
    url: address,
    adminUrl,
    async close() {
      clearInterval(sweep);
      keys.stop();
      await admin?.close();
      let forced = false;
      const bound = setTimeout(() => {
        forced = true;
        app.log.warn(
          { shutdown_timeout: config.shutdownTimeout },
          'shutdown: requests still in flight after PADDOCK_SHUTDOWN_TIMEOUT; closing their connections',
        );
        app.server.closeAllConnections();
      }, config.shutdownTimeout * 1000);
      try {
        await app.close();
      } finally {
        clearTimeout(bound);
      }
      await store.close();
      return !forced;
    },
  };
}
