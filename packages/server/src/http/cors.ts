// CORS (the book's chapter has no text): the API endpoints answer browsers on the origins of the
// registered redirect URIs of public clients, and no other; a native loopback registration
// (http://127.0.0.1:0/...) admits that loopback host on any port. /authorize is a navigation, never CORS.
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';

const LOOPBACK_ZERO = /^http:\/\/(127\.0\.0\.1|\[::1\]):0\//;
// Short, so that a client disabled or deleted in one process stops being a CORS origin everywhere soon.
const REFRESH_SECONDS = 1;

export function originRule(ctx: AppContext): (origin: string) => Promise<boolean> {
  let loadedAt = -Infinity;
  let exact = new Set<string>();
  let loopbackHosts = new Set<string>();
  return async (origin) => {
    const now = seconds(ctx.clock);
    if (now - loadedAt >= REFRESH_SECONDS) {
      const uris = await ctx.store.publicRedirectUris();
      exact = new Set();
      loopbackHosts = new Set();
      for (const uri of uris) {
        const m = LOOPBACK_ZERO.exec(uri);
        if (m) loopbackHosts.add(m[1]!);
        else if (/^https?:\/\//i.test(uri)) exact.add(new URL(uri).origin);
      }
      loadedAt = now;
    }
    if (exact.has(origin)) return true;
    const m = /^http:\/\/(127\.0\.0\.1|\[::1\]):([1-9][0-9]{0,4})$/.exec(origin);
    return !!m && loopbackHosts.has(m[1]!);
  };
}

/**
 * Registers `routes` in a context whose responses carry CORS headers for allowed origins. The plugin's
 * preflight route answers OPTIONS on every path (Fastify encapsulates hooks, not routes): a preflight for
 * any other path is not found, before the plugin's hook sees it, so only these API routes ever answer
 * CORS. The plugin's options are fixed and only the origin is decided per request: a delegator returning
 * options per request made the plugin rebuild them for every call, 2 % of the token endpoint's time.
 */
export async function withCors(
  app: FastifyInstance,
  ctx: AppContext,
  routes: (api: FastifyInstance) => Promise<void>,
): Promise<void> {
  const allowed = originRule(ctx);
  const apiPaths = new Set<string>();
  await app.register(async (api) => {
    api.addHook('onRoute', (route) => {
      apiPaths.add(route.url);
    });
    api.addHook('onRequest', (request, reply, done) => {
      if (request.method === 'OPTIONS' && !apiPaths.has(request.url.split('?')[0]!)) reply.callNotFound();
      else done();
    });
    await api.register(cors, {
      ...OPTIONS,
      origin: (origin: string | undefined, cb: (err: Error | null, allow: string | false) => void) => {
        if (!origin) return cb(null, false);
        allowed(origin).then(
          (ok) => cb(null, ok ? origin : false),
          () => cb(null, false),
        );
      },
    });
    await routes(api);
  });
}

const OPTIONS = {
  methods: ['GET', 'POST'],
  allowedHeaders: ['authorization', 'content-type'],
  exposedHeaders: [
    'x-request-id',
    'www-authenticate',
    'retry-after',
    'ratelimit-limit',
    'ratelimit-remaining',
    'ratelimit-reset',
  ],
  maxAge: 600,
  strictPreflight: false,
};
