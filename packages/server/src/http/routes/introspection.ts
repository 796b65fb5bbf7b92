// RFC 7662 token introspection at /oauth2/introspect, for confidential clients and resource servers:
// a token that is not live, or not the caller's to know about, is {"active": false}.
import type { FastifyInstance } from 'fastify';
import { authenticateClient } from '../../clients/authenticate.ts';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { unauthorizedClient } from '../../oauth/errors.ts';
import { required } from '../../oauth/form.ts';
import { INACTIVE, introspectionResponse, isActive, mayIntrospect } from '../../oauth/introspection.ts';
import { factsOf, findToken } from '../../tokens/lookup.ts';
import { formOf } from '../input.ts';

export async function registerIntrospection(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.post(`${ctx.config.basePath}/oauth2/introspect`, async (request, reply) => {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    const form = formOf(request);
    const client = await authenticateClient(ctx, form);
    if (client.client_type !== 'confidential') {
      throw unauthorizedClient(
        'a public client cannot introspect tokens: introspection needs a client secret',
      );
    }
    const token = required(form, 'token');
    // token_type_hint is accepted and not needed: findToken tells the two types apart by itself.
    const found = await findToken(ctx, token);
    const facts = found && (await factsOf(ctx, found));
    if (!facts || !mayIntrospect(client, facts.token)) return INACTIVE;
    if (!isActive(facts.token, facts.session, seconds(ctx.clock))) return INACTIVE;
    return introspectionResponse(facts.token);
  });
}
