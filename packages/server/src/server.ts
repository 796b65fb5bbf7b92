import type { FastifyInstance } from 'fastify';
import { type Clock, seconds, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import type { AppContext } from './context.ts';
import { buildAdminApp } from './http/admin.ts';
import { type AppOptions, buildApp } from './http/app.ts';
import { SWEEP_JOB, scheduleInactivitySweep } from './jobs/inactivity-sweep.ts';
import { type Logger, logFailure } from './log.ts';
import { Metrics } from './metrics/metrics.ts';
import { openStore, storeDescription } from './store/index.ts';
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
  return {
    config,
    store,
    clock,
    keys,
    csrfKey: deriveKey(masterKey, 'csrf'),
    totpKey: deriveKey(masterKey, 'totp'),
    metrics,
  };
}

/**
 * Deletes spent rate-limit counters and flow state, expired refresh tokens and ended sessions (see
 * store/retention.ts); a failure is logged and the next sweep tries again.
 */
export async function sweepExpired(ctx: AppContext, log: Logger): Promise<void> {
  const now = seconds(ctx.clock);
  await ctx.store.counters
    .deleteExpired(now - 86400)
    .catch(logFailure(log, 'sweep of expired rate-limit counters failed'));
  await ctx.store.flow
    .deleteExpiredFlowState(now)
    .catch(logFailure(log, 'sweep of expired authorization requests and codes failed'));
  const failed = logFailure(log, 'sweep of ended sessions and expired refresh tokens failed');
  const pruned = await ctx.store.retention.prune(now).catch((err) => void failed(err));
  if (pruned && pruned.sessions + pruned.refreshTokens + pruned.authorizationCodes > 0)
    log.info({ pruned }, 'deleted ended sessions and expired refresh tokens');
}

/** Opens the store, loads the keys and listens. */
export async function startServer(
  config: Config,
  clock: Clock = systemClock,
  options: Pick<AppOptions, 'inspector'> = {},
): Promise<RunningServer> {
  const ctx = await createContext(config, clock);
  const { store, keys } = ctx;
  const app = await buildApp(ctx, options);
  store.db.checkpointInBackground?.(config.sqliteWalLimitMb * 1024 * 1024);
  keys.startRefreshing(config.keys.refreshInterval, app.log);
  // Hourly, and a minute after start: a server restarted more often than hourly sweeps all the same.
  const sweep = setInterval(() => void sweepExpired(ctx, app.log), 3600_000);
  sweep.unref();
  const firstSweep = setTimeout(() => void sweepExpired(ctx, app.log), 60_000);
  firstSweep.unref();
  const inactivity = scheduleInactivitySweep(ctx, app.log.child({ job: SWEEP_JOB }));
  const address = await app.listen({ host: config.host, port: config.port });
  app.log.info(storeDescription(config), 'serving from this store');
  // Metrics (and health) on a port of their own, when the operator keeps them off the public one.
  const admin = config.adminPort === undefined ? undefined : await buildAdminApp(ctx);
  const adminUrl = await admin?.listen({ host: config.adminHost, port: config.adminPort });
  return {
    app,
    ctx,
    url: address,
    adminUrl,
    /**
     * Stops everything, each step even if one before it failed; failures are logged, then thrown.
     * Resolves false when PADDOCK_SHUTDOWN_TIMEOUT had to cut requests still in flight.
     */
    async close() {
      clearInterval(sweep);
      clearTimeout(firstSweep);
      await inactivity.stop();
      keys.stop();
      let failed = false;
      const step = (what: string) => (err: unknown) => {
        failed = true;
        logFailure(app.log, what)(err);
      };
      await admin?.close().catch(step('shutdown: closing the admin listener failed'));
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
        await app.close().catch(step('shutdown: closing the HTTP server failed'));
      } finally {
        clearTimeout(bound);
      }
      await store.close().catch(step('shutdown: closing the store failed'));
      if (failed) throw new Error('shutdown did not complete cleanly (see the log)');
      return !forced;
    },
  };
}
