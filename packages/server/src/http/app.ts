import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { AppContext } from '../context.ts';
import { parseForm } from '../oauth/form.ts';
import { withCors } from './cors.ts';
import { installErrorHandling } from './errors.ts';
import { trustedProxies } from './proxies.ts';
import { registerAuthorize } from './routes/authorize.ts';
import { registerBench } from './routes/bench.ts';
import { registerBook } from './routes/book.ts';
import { registerDiscovery } from './routes/discovery.ts';
import { registerJwks } from './routes/jwks.ts';
import { registerLogout } from './routes/logout.ts';
import { registerProfile } from './routes/profile.ts';
import { registerSessions } from './routes/sessions.ts';
import { registerToken } from './routes/token.ts';

export interface AppOptions {
  /** A pino destination stream; stdout by default. */
  logStream?: NodeJS.WritableStream;
}

export async function buildApp(ctx: AppContext, options: AppOptions = {}): Promise<FastifyInstance> {
  const logger: FastifyServerOptions['logger'] = {
    level: ctx.config.logLevel,
    ...(options.logStream ? { stream: options.logStream } : {}),
    serializers: {
      // Paths only: a client that wrongly puts a secret in a query string must not get it logged.
      req: (req) => ({ method: req.method, path: String(req.url).split('?')[0], remote: req.ip }),
      res: (res) => ({ status: res.statusCode }),
    },
  };
  const app = Fastify({
    logger,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    trustProxy: trustedProxies(ctx.config.trustProxy),
    bodyLimit: 64 * 1024,
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // An https issuer is never to be reached over plain http again, whatever terminates TLS in front.
  const hsts = ctx.config.issuer.startsWith('https:');
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    if (hsts) reply.header('strict-transport-security', 'max-age=31536000');
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  installErrorHandling(app, ctx.config);
  await app.register(cookie);
  await withCors(app, ctx, async (api) => {
    await registerToken(api, ctx);
    await registerProfile(api, ctx);
    await registerJwks(api, ctx);
    await registerSessions(api, ctx);
  });
  await registerAuthorize(app, ctx);
  await registerLogout(app, ctx);
  await registerDiscovery(app, ctx);
  await registerBook(app, { basePath: ctx.config.basePath });
  if (ctx.config.benchKey) await registerBench(app, ctx, ctx.config.benchKey);
  app.get(`${ctx.config.basePath}/healthz`, async () => ({ status: 'ok' }));
  return app;
}
