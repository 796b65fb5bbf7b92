import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';

/** Readiness answers within this bound, whatever the database does: probes have short timeouts. */
const READY_DEADLINE_MS = 2000;

/**
 * `/healthz`: the process is up and serving HTTP; it never touches the database, so an orchestrator does
 * not restart a healthy process because the database is away.
 * `/readyz`: this process can serve requests now: the database answers, every migration this code needs is
 * applied, and a signing key is active. A load balancer sends traffic only while it says 200.
 */
export function registerHealth(app: FastifyInstance, ctx: AppContext, base: string): void {
  app.get(`${base}/healthz`, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });
  app.get(`${base}/readyz`, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const reason = await notReady(ctx, request.log);
    if (reason) return reply.code(503).send({ status: 'unavailable', reason });
    return { status: 'ready' };
  });
}

/** Why this process cannot serve, or undefined when it can. Details go to the log, not to the caller. */
async function notReady(ctx: AppContext, log: FastifyBaseLogger): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), READY_DEADLINE_MS);
  });
  try {
    const pending = await Promise.race([ctx.store.pendingMigrations(), deadline]);
    if (pending === 'late') return `the database did not answer within ${READY_DEADLINE_MS / 1000} s`;
    if (pending.length > 0) {
      return `the database lacks migration${pending.length > 1 ? 's' : ''} ${pending.join(', ')}: run "paddock migrate"`;
    }
  } catch (err) {
    log.warn({ err }, 'readiness: the database cannot be read');
    return 'the database is unavailable';
  } finally {
    clearTimeout(timer);
  }
  if (!ctx.keys.activeKey()) return 'no signing key is active';
  return undefined;
}
