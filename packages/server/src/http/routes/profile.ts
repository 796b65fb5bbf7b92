import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { OAuthError } from '../../oauth/errors.ts';
import { hasScope, verifyBearer } from '../../tokens/verify.ts';
import { bearerOrigin, bearerToken } from '../bearer.ts';

export async function registerProfile(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get(`${ctx.config.basePath}/oauth2/iracing/profile`, async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    const { claims, user } = await verifyBearer(ctx, bearerToken(request), bearerOrigin(request));
    if (!hasScope(claims, 'iracing.profile')) {
      throw new OAuthError('insufficient_scope', 'the access token lacks the iracing.profile scope', {
        reason: 'scope_insufficient',
      });
    }
    return { iracing_name: user.display_name, iracing_cust_id: user.cust_id };
  });
}
