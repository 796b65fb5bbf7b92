// The /token endpoint, as node-oidc-provider's token action: find the grant in the table, run what must
// precede client authentication, authenticate the client once, check it may use the grant, dispatch.
import type { FastifyInstance } from 'fastify';
import { authenticateClient } from '../../clients/authenticate.ts';
import type { AppContext } from '../../context.ts';
import { assertClientMayUse, grantOf } from '../../grants/index.ts';
import type { GrantRequest } from '../../grants/types.ts';
import { invalidRequest, OAuthError } from '../../oauth/errors.ts';
import { printable } from '../../oauth/printable.ts';
import { isUnavailable } from '../../store/db.ts';
import { formOf } from '../input.ts';

export async function registerToken(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post(`${ctx.config.basePath}/oauth2/token`, async (request, reply) => {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    const form = formOf(request);
    const grantType = form.grant_type;
    if (grantType === undefined || grantType === '') throw invalidRequest('grant_type missing');
    const grant = grantOf(grantType);
    if (!grant)
      throw new OAuthError('unsupported_grant_type', `grant_type "${printable(grantType)}" is not supported`);
    const req: GrantRequest = {
      form,
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
      headers: {},
      rateLimits: [],
    };
    try {
      await grant.beforeClientAuth?.(ctx, req);
      const client = await authenticateClient(ctx, form);
      assertClientMayUse(client, grantType, grant);
      const response = await grant.handle(ctx, req, client);
      ctx.metrics.grant(grantType, 'success');
      return response;
    } catch (err) {
      ctx.metrics.grant(grantType, grantOutcome(err));
      if (err instanceof OAuthError) for (const [k, v] of Object.entries(req.headers)) err.headers[k] ??= v;
      throw err;
    } finally {
      reply.headers(req.headers);
    }
  });
}

/** The error code the client was answered with, as http/errors.ts renders it. */
function grantOutcome(err: unknown): string {
  if (err instanceof OAuthError) return err.error;
  return isUnavailable(err) ? 'temporarily_unavailable' : 'server_error';
}
