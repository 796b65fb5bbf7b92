// The /token endpoint, as node-oidc-provider's token action: find the grant in the table, run what must
// precede client authentication, authenticate the client once, check it may use the grant, dispatch.
import type { FastifyInstance } from 'fastify';
import { authenticateClient, verifyClient } from '../../clients/authenticate.ts';
import type { AppContext } from '../../context.ts';
import { assertClientMayUse, grantOf } from '../../grants/index.ts';
import type { Grant, GrantRequest } from '../../grants/types.ts';
import { invalidRequest, OAuthError } from '../../oauth/errors.ts';
import { printable } from '../../oauth/printable.ts';
import { forgetClient, uncheckedClient } from '../../store/copies.ts';
import { isUnavailable } from '../../store/db.ts';
import type { ClientRecord } from '../../store/types.ts';
import type { TokenResponse } from '../../tokens/issue.ts';
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
      const response =
        (await fromUncheckedCopy(ctx, req, grant, grantType)) ??
        (await handle(ctx, req, grant, grantType, await authenticateClient(ctx, form)));
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

async function handle(
  ctx: AppContext,
  req: GrantRequest,
  grant: Grant,
  grantType: string,
  client: ClientRecord,
): Promise<TokenResponse> {
  assertClientMayUse(client, grantType, grant);
  return grant.handle(ctx, req, client);
}

/** Thrown inside a grant's transaction when the client changed since this process's copy was read. */
const STALE = Symbol('stale client copy');

/**
 * SQLite: whether the client changed since this process read its copy is a read of the clients count,
 * ~20 µs outside a transaction and a few inside one. A grant that issues tokens only inside transactions
 * (checksClientInTransaction) is run against the unchecked copy, and compares the count first thing in
 * its transaction: tokens are issued only when the copy was the client as that transaction sees it,
 * which is later than a check before it. Every other answer (a refusal, whether by the copy or before any
 * transaction) stands only once the count is checked. When the copy was stale, nothing was written: it
 * is dropped and the request is answered again from the store (undefined).
 */
async function fromUncheckedCopy(
  ctx: AppContext,
  req: GrantRequest,
  grant: Grant,
  grantType: string,
): Promise<TokenResponse | undefined> {
  if (!grant.checksClientInTransaction || ctx.store.dialect !== 'sqlite') return undefined;
  const clientId = req.form.client_id;
  const copy = clientId && uncheckedClient(ctx.store, clientId);
  if (!copy) return undefined;
  let checked = false;
  req.checkClient = async (tx) => {
    if ((await tx.changeCount('clients')) !== copy.version) throw STALE;
    checked = true;
  };
  try {
    return await handle(ctx, req, grant, grantType, verifyClient(ctx, copy.client, req.form));
  } catch (err) {
    if (err !== STALE && (checked || (await ctx.store.db.changeVersion('clients')) === copy.version))
      throw err;
    forgetClient(ctx.store, clientId);
    for (const name of Object.keys(req.headers)) delete req.headers[name];
    req.rateLimits.length = 0;
    return undefined;
  } finally {
    req.checkClient = undefined;
  }
}

/** The error code the client was answered with, as http/errors.ts renders it. */
function grantOutcome(err: unknown): string {
  if (err instanceof OAuthError) return err.error;
  return isUnavailable(err) ? 'temporarily_unavailable' : 'server_error';
}
