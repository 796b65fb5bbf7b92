// RFC 7009 token revocation at /oauth2/revoke (the book's /revoke/current, /revoke/sessions and
// /revoke/client are other routes): authenticate the client as /token does, find the token, end its
// session if the token is this client's, and answer 200 whatever was found.
import type { FastifyInstance } from 'fastify';
import { authenticateClient } from '../../clients/authenticate.ts';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { required } from '../../oauth/form.ts';
import { REVOKED_REASON, sessionToRevoke } from '../../oauth/revocation.ts';
import { findToken } from '../../tokens/lookup.ts';
import { formOf } from '../input.ts';

export async function registerRevocation(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post(`${ctx.config.basePath}/oauth2/revoke`, async (request, reply) => {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    const form = formOf(request);
    const client = await authenticateClient(ctx, form);
    const token = required(form, 'token');
    // token_type_hint is accepted and not needed: findToken tells the two types apart by itself.
    const found = await findToken(ctx, token);
    const owner =
      found?.kind === 'refresh_token' ? found.row : found?.kind === 'access_token' ? found.claims : undefined;
    const sessionId = sessionToRevoke(owner, client.client_id);
    if (sessionId) await ctx.store.revokeSession(sessionId, REVOKED_REASON, seconds(ctx.clock));
    return reply.code(200).send();
  });
}
