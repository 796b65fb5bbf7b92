// The book's Session Management endpoints: parse the bearer token and the form, call sessions/, answer.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { invalidToken } from '../../oauth/errors.ts';
import { type GeoLookup, geoLookup, sessionPlaces } from '../../sessions/geo.ts';
import {
  parseForgetBrowser,
  parseSessionIds,
  revokeClientSessions,
  revokeCurrentSession,
  revokeSessionsById,
} from '../../sessions/revoke.ts';
import { sessionView } from '../../sessions/view.ts';
import { verifyBearer } from '../../tokens/verify.ts';
import { bearerOrigin, bearerToken } from '../bearer.ts';
import { optionalFormOf } from '../input.ts';

export async function registerSessions(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const base = `${ctx.config.basePath}/oauth2`;
  const now = () => seconds(ctx.clock);
  const noBody = (reply: FastifyReply) => reply.code(200).header('Cache-Control', 'no-store').send();

  app.get(`${base}/sessions`, async (request, reply) => {
    reply.header('Cache-Control', 'no-store');
    const { claims } = await verifyBearer(ctx, bearerToken(request), bearerOrigin(request));
    const client = await ctx.store.getClient(claims.client_id);
    if (!client) throw invalidToken('the client of this access token no longer exists');
    const sessions = await ctx.store.liveSessions(claims.sub, claims.client_id, now());
    const lookup = await geoLookup(ctx.config).catch((err): GeoLookup => {
      // The places are optional in the book: an unreadable database leaves them null, the rest answers.
      request.log.warn({ err, geoip_db: ctx.config.geoipDb }, 'GeoIP database cannot be read');
      return () => null;
    });
    return {
      sessions: sessions.map((s) => sessionView(s, client, claims.session_id, sessionPlaces(lookup, s))),
    };
  });

  // The book's /revoke/current and /revoke/client take no required parameter: a POST without a body is
  // theirs to accept. Any other content type than a form has been refused before these handlers run.
  app.post(`${base}/revoke/current`, async (request, reply) => {
    const { claims } = await verifyBearer(ctx, bearerToken(request), bearerOrigin(request));
    // forget_browser also removes the 2FA bypass of the browser the session was signed in from.
    const forget = parseForgetBrowser(optionalFormOf(request).forget_browser);
    await revokeCurrentSession(ctx, claims, now(), forget);
    return noBody(reply);
  });

  app.post(`${base}/revoke/sessions`, async (request, reply) => {
    const { claims } = await verifyBearer(ctx, bearerToken(request), bearerOrigin(request));
    const ids = parseSessionIds(optionalFormOf(request).session_ids);
    await revokeSessionsById(ctx, claims, ids, now());
    return noBody(reply);
  });

  app.post(`${base}/revoke/client`, async (request, reply) => {
    const { claims } = await verifyBearer(ctx, bearerToken(request), bearerOrigin(request));
    await revokeClientSessions(ctx, claims, now());
    return noBody(reply);
  });
}
