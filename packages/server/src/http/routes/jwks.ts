import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';

export async function registerJwks(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get(`${ctx.config.basePath}/.well-known/jwks.json`, async (_request, reply) => {
    // Short enough that a key published at rotation reaches caches before it signs.
    reply
      .header('Cache-Control', `public, max-age=${ctx.config.keys.jwksMaxAge}`)
      .type('application/json; charset=utf-8');
    return ctx.keys.jwks();
  });
}
