// The book's Session Management endpoints. Each takes the bearer token of a live session and acts on
// that user's sessions with the calling client only.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { invalidRequest, invalidToken } from '../../oauth/errors.ts';
import type { Form } from '../../oauth/form.ts';
import { sessionView } from '../../sessions/view.ts';
import { verifyBearer } from '../../tokens/verify.ts';
import { bearerToken } from './profile.ts';

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function registerSessions(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const base = `${ctx.config.basePath}/oauth2`;
  const now = () => seconds(ctx.clock);
  const noBody = (reply: FastifyReply) => reply.code(200).header('Cache-Control', 'no-store').send();
  const formOf = (body: unknown): Form => (body && typeof body === 'object' ? (body as Form) : {});

  app.get(`${base}/sessions`, async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    const claims = await verifyBearer(ctx, bearerToken(request));
    const client = await ctx.store.getClient(claims.client_id);
    if (!client) throw invalidToken('the client of this access token no longer exists');
    const sessions = await ctx.store.liveSessions(claims.sub, claims.client_id, now());
    return { sessions: sessions.map((s) => sessionView(s, client, claims.session_id)) };
  });

  app.post(`${base}/revoke/current`, async (request, reply) => {
    const claims = await verifyBearer(ctx, bearerToken(request));
    const forget = formOf(request.body).forget_browser;
    if (forget !== undefined && forget !== 'true' && forget !== 'false') {
      throw invalidRequest('forget_browser must be true or false');
    }
    // Paddock keeps no two-factor bypass cookies yet, so forget_browser has nothing more to remove.
    await ctx.store.revokeSession(claims.session_id, 'revoked_by_client', now());
    return noBody(reply);
  });

  app.post(`${base}/revoke/sessions`, async (request, reply) => {
    const claims = await verifyBearer(ctx, bearerToken(request));
    const raw = formOf(request.body).session_ids;
    if (!raw) throw invalidRequest('session_ids missing');
    const ids = [...new Set(raw.split(',').map((id) => id.trim()))];
    if (ids.some((id) => !SESSION_ID.test(id)))
      throw invalidRequest('session_ids must be comma-separated session ids');
    const t = now();
    await ctx.store.transaction(async (tx) => {
      const mine = new Set((await tx.liveSessions(claims.sub, claims.client_id, t)).map((s) => s.session_id));
      const foreign = ids.find((id) => !mine.has(id));
      // All or nothing: an id that is not a live session of this user and client changes nothing.
      if (foreign)
        throw invalidRequest(`session ${foreign} is not a live session of this user with this client`);
      for (const id of ids) await tx.revokeSession(id, 'revoked_by_client', t);
    });
    return noBody(reply);
  });

  app.post(`${base}/revoke/client`, async (request, reply) => {
    const claims = await verifyBearer(ctx, bearerToken(request));
    await ctx.store.revokeUserClientSessions(claims.sub, claims.client_id, 'revoked_by_client', now());
    return noBody(reply);
  });
}
