// A new client secret, shown once. The secret is never stored readable: the request that made it seals it
// (AES-GCM, a key derived from the CSRF key, bound to the client and this browser's id) into a short-lived
// cookie scoped to the secret page's path, and redirects there; the page opens the cookie and clears it in
// the same answer, so a reload finds nothing and says so.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { seconds } from '../../clock.ts';
import { endpoints } from '../../config.ts';
import type { AppContext } from '../../context.ts';
import { mask } from '../../oauth/masking.ts';
import type { ClientRecord } from '../../store/types.ts';
import { decrypt, deriveKey, encrypt } from '../../tokens/master-key.ts';
import { secretPage } from '../../ui/developer-pages.ts';
import { browserId, pageHeaders } from '../browser.ts';
import { overlapEnds } from './developer-forms.ts';

/** Seconds the sealed secret waits for its page: a redirect's worth, with room for a slow network. */
const STASH_TTL = 120;

function jar(ctx: AppContext, clientId: string) {
  const https = ctx.config.issuer.startsWith('https:');
  return {
    name: `${https ? '__Secure-' : ''}paddock_new_secret`,
    options: (maxAge: number) => ({
      path: `${ctx.config.basePath}/oauth2/developer/clients/${encodeURIComponent(clientId)}/secret`,
      httpOnly: true,
      sameSite: 'strict' as const,
      secure: https,
      maxAge,
    }),
  };
}

const key = (ctx: AppContext) => deriveKey(ctx.csrfKey, 'developer portal new secret');
const aad = (clientId: string, browser: string) => `${clientId}\n${browser}`;

export function stashSecret(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  clientId: string,
  secret: string,
): void {
  const browser = browserId(ctx, request, reply);
  const j = jar(ctx, clientId);
  reply.setCookie(j.name, encrypt(key(ctx), secret, aad(clientId, browser)), j.options(STASH_TTL));
}

export function showSecret(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  client: ClientRecord,
  clientUrl: string,
) {
  const j = jar(ctx, client.client_id);
  const sealed = request.cookies[j.name];
  let secret: string | undefined;
  if (sealed) {
    reply.clearCookie(j.name, j.options(0));
    try {
      secret = decrypt(key(ctx), sealed, aad(client.client_id, browserId(ctx, request, reply)));
    } catch {
      secret = undefined;
    }
  }
  const view = { client_id: client.client_id, client_name: client.client_name, clientUrl };
  if (!secret) return pageHeaders(reply.code(410)).send(secretPage(view));
  const masked = mask(secret, client.client_id);
  return pageHeaders(reply).send(
    secretPage({
      ...view,
      secret: { secret, masked, curl: curlFor(ctx, client, masked) },
      overlapEnds: overlapEnds(client, seconds(ctx.clock)),
    }),
  );
}

/** A first request with this client, its secret already masked, as the book requires. */
function curlFor(ctx: AppContext, client: ClientRecord, masked: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const form = (k: string, v: string) => ` \\\n  --data-urlencode ${q(`${k}=${v}`)}`;
  const head = `curl -s ${endpoints(ctx.config).token}${form('client_id', client.client_id)}${form('client_secret', masked)}`;
  if (client.grant_types.includes('password_limited')) {
    return `${head}${form('grant_type', 'password_limited')}${form('username', 'YOUR_EMAIL')}${form('password', 'YOUR_MASKED_PASSWORD')}${form('scope', 'iracing.auth')}`;
  }
  const redirect = client.redirect_uris[0] ?? 'YOUR_REDIRECT_URI';
  return `${head}${form('grant_type', 'authorization_code')}${form('code', 'THE_CODE')}${form('redirect_uri', redirect)}${form('code_verifier', 'YOUR_PKCE_VERIFIER')}`;
}
