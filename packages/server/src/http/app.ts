import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import cookie from '@fastify/cookie';
import Fastify, {
  type FastifyHttpOptions,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { AppContext } from '../context.ts';
import type { RequestInspector } from '../dev/inspector.ts';
import { parseForm } from '../oauth/form.ts';
import { withCors } from './cors.ts';
import { installDraining } from './draining.ts';
import { clientErrorHandler, installErrorHandling } from './errors.ts';
import { countRequests } from './metrics.ts';
import { trustedProxies } from './proxies.ts';
import { registerAccount } from './routes/account.ts';
import { registerAccountLogin } from './routes/account-login.ts';
import { registerAuthorize } from './routes/authorize.ts';
import { registerBook } from './routes/book.ts';
import { registerDeveloper } from './routes/developer.ts';
import { registerDevice } from './routes/device.ts';
import { registerDiscovery } from './routes/discovery.ts';
import { registerHealth } from './routes/health.ts';
import { registerIntrospection } from './routes/introspection.ts';
import { registerJwks } from './routes/jwks.ts';
import { registerLogout } from './routes/logout.ts';
import { registerMetrics } from './routes/operator.ts';
import { registerProfile } from './routes/profile.ts';
import { registerRevocation } from './routes/revocation.ts';
import { registerSessions } from './routes/sessions.ts';
import { registerToken } from './routes/token.ts';

export interface AppOptions {
  /** A pino destination stream; stdout by default. */
  logStream?: NodeJS.WritableStream;
  /** `paddock dev`'s request inspector; `paddock serve` never passes one, so /oauth2/dev does not exist. */
  inspector?: RequestInspector;
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
    ...httpTimeouts(ctx.config),
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
  countRequests(app, ctx.metrics);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  installErrorHandling(app, ctx.config);
  // Before the routes, so that its hook sees every one of them.
  options.inspector?.install(app, ctx.config);
  installDraining(app);
  await app.register(cookie);
  await withCors(app, ctx, async (api) => {
    await registerToken(api, ctx);
    await registerProfile(api, ctx);
    await registerJwks(api, ctx);
    await registerSessions(api, ctx);
    await registerRevocation(api, ctx);
  });
  await registerIntrospection(app, ctx);
  await registerAuthorize(app, ctx);
  await registerDevice(app, ctx);
  await registerAccount(app, ctx);
  await registerAccountLogin(app, ctx);
  await registerDeveloper(app, ctx);
  await registerLogout(app, ctx);
  await registerDiscovery(app, ctx);
  await registerBook(app, { basePath: ctx.config.basePath });
  registerHealth(app, ctx, ctx.config.basePath);
  // Metrics are served here only when the operator has not given them an admin port of their own.
  if (ctx.config.adminPort === undefined) registerMetrics(app, ctx, ctx.config.basePath);
  return app;
}

/**
 * Node's limits on slow clients: a request must arrive whole within requestTimeout (its headers within
 * headersTimeout), and an idle keep-alive connection closes after keepAliveTimeout. Node checks the first
 * two every connectionsCheckingInterval, 30 s unless told otherwise.
 */
function httpTimeouts(config: AppContext['config']): FastifyHttpOptions<Server> {
  const ms = (s: number) => s * 1000;
  const { requestTimeout, headersTimeout, keepAliveTimeout } = config.http;
  return {
    requestTimeout: ms(requestTimeout),
    keepAliveTimeout: ms(keepAliveTimeout),
    http: {
      requestTimeout: ms(requestTimeout),
      headersTimeout: ms(headersTimeout),
      keepAliveTimeout: ms(keepAliveTimeout),
      connectionsCheckingInterval: Math.min(1000, ms(headersTimeout) / 2),
    },
    // Requests that arrive while closing get the book's 503 from draining.ts, not Fastify's own body.
    return503OnClosing: false,
    clientErrorHandler: clientErrorHandler(config),
  };
}
