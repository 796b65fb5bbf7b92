import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.ts';
import { invalidToken, OAuthError } from '../../oauth/errors.ts';
import { hasScope, verifyBearer } from '../../tokens/verify.ts';

export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (!header) throw invalidToken('Authorization header with a Bearer token missing');
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!m) throw invalidToken('Authorization header must be "Bearer" followed by the access token');
  return m[1]!;
}

export async function registerProfile(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get(`${ctx.config.basePath}/oauth2/iracing/profile`, async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    const claims = await verifyBearer(ctx, bearerToken(request));
    if (!hasScope(claims, 'iracing.profile')) {
      throw new OAuthError('insufficient_scope', 'the access token lacks the iracing.profile scope');
    }
    const user = await ctx.store.getUserById(claims.sub);
    if (!user) throw invalidToken('the user of this access token no longer exists');
    return { iracing_name: user.display_name, iracing_cust_id: user.cust_id };
  });
}
