// Routes for whoever runs the server rather than for OAuth clients: liveness, readiness and metrics.
// The main app serves them under the issuer's path; with PADDOCK_ADMIN_PORT set, the admin listener
// serves every one of them at its root and the main app no longer serves the metrics.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { registerHealth } from './health.ts';

/** Registers operator routes under `prefix` ('' on the admin listener, the issuer's path on the main one). */
export type OperatorRoutes = (app: FastifyInstance, ctx: AppContext, prefix: string) => void;

/** Prometheus text format, rendered from this app's own registry. */
export const registerMetrics: OperatorRoutes = (app, ctx, prefix) => {
  app.get(`${prefix}/metrics`, async (_request, reply) => {
    const body = await ctx.metrics.render();
    return reply.header('Cache-Control', 'no-store').type(ctx.metrics.contentType).send(body);
  });
};

/** Everything the admin listener serves. */
export const ADMIN_ROUTES: readonly OperatorRoutes[] = [registerHealth, registerMetrics];
