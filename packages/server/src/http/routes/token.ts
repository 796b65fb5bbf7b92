import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.ts';
import { GRANTS } from '../../grants/index.ts';
import type { GrantRequest } from '../../grants/types.ts';
import { invalidRequest, OAuthError } from '../../oauth/errors.ts';
import type { Form } from '../../oauth/form.ts';

export async function registerToken(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post(`${ctx.config.basePath}/oauth2/token`, async (request, reply) => {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    const form = (request.body ?? {}) as Form;
    if (typeof request.body !== 'object' || request.body === null) {
      throw invalidRequest('the request body must be application/x-www-form-urlencoded');
    }
    const grantType = form.grant_type;
    if (grantType === undefined || grantType === '') throw invalidRequest('grant_type missing');
    const grant = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined;
    if (!grant)
      throw new OAuthError('unsupported_grant_type', `grant_type "${printable(grantType)}" is not supported`);
    const req: GrantRequest = {
      form,
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
      headers: {},
    };
    try {
      const response = await grant(ctx, req);
      ctx.metrics.grant(grantType, 'success');
      return response;
    } catch (err) {
      ctx.metrics.grant(grantType, err instanceof OAuthError ? err.error : 'server_error');
      if (err instanceof OAuthError) for (const [k, v] of Object.entries(req.headers)) err.headers[k] ??= v;
      throw err;
    } finally {
      reply.headers(req.headers);
    }
  });
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
