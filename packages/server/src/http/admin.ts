// The admin listener (PADDOCK_ADMIN_PORT on PADDOCK_ADMIN_HOST, 127.0.0.1 by default): the operator
// routes on a port that is not published, so metrics are not public. Scrapes are not logged one by one.
import Fastify, { type FastifyInstance } from 'fastify';
import type { AppContext } from '../context.ts';
import type { AppOptions } from './app.ts';
import { installErrorHandling } from './errors.ts';
import { ADMIN_ROUTES } from './routes/operator.ts';

export async function buildAdminApp(ctx: AppContext, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: ctx.config.logLevel, ...(options.logStream ? { stream: options.logStream } : {}) },
    disableRequestLogging: true,
  });
  installErrorHandling(app, ctx.config);
  for (const register of ADMIN_ROUTES) register(app, ctx, '');
  return app;
}
