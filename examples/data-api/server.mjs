// A resource server in the book's Data API Workflow: it answers GET /data/member/info for a request that
// carries `Authorization: Bearer <access token>`, and trusts the token only after @paddock/client's
// verifier has run every step of the book's "Validation and Verification" (Tokens → Access Token →
// Advanced Use): the signature against the JWKS at a vetted `jku`, then the claims.
//
// The token must have been issued to a client registered with the audience `data-server` (the Data API
// Workflow's prerequisite) and carry the scope `iracing.auth` (the scope that workflow asks for).
//
//   node examples/data-api/server.mjs          # against `paddock dev` on http://127.0.0.1:8080
//
// Environment:
//   PADDOCK_ISSUER   the authorization server's issuer   (default http://127.0.0.1:8080)
//   DATA_API_HOST    the address to listen on            (default 127.0.0.1)
//   DATA_API_PORT    the port to listen on               (default 8081)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createVerifier, TokenVerificationError } from '@paddock/client';
import Fastify from 'fastify';

export const DEFAULT_ISSUER = 'http://127.0.0.1:8080';
export const DEFAULT_PORT = 8081;

/** The audience a token must carry for this server, and the scope its callers need. */
const AUDIENCE = 'data-server';
const REQUIRED_SCOPES = ['iracing.auth'];

/**
 * Whether the issuer is a plain-http server on this machine (`paddock dev`). Its tokens then name an
 * http:// `jku` on a loopback host, which the verifier refuses unless told this is local development.
 */
export function isLoopbackHttp(issuer) {
  const url = new URL(issuer);
  return url.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
}

/**
 * Starts the Data API. Returns its address and a `close()`.
 * Options: port (0 for any free port), host, issuer, logger (Fastify's; default off).
 */
export async function start({
  port = DEFAULT_PORT,
  host = '127.0.0.1',
  issuer = DEFAULT_ISSUER,
  logger = false,
} = {}) {
  // One verifier for the whole server: it caches the JWKS per `jku`, so the keys are fetched once and
  // again only when they go stale or a token names a key the cache does not have (a rotation).
  const verify = createVerifier({
    issuer,
    audience: AUDIENCE,
    requiredScopes: REQUIRED_SCOPES,
    // Local development only: accept the http:// jku of a loopback issuer, on the issuer's own host.
    // In production (an https issuer) both stay at their safe defaults: https only, the issuer's host.
    ...(isLoopbackHttp(issuer) && {
      allowInsecureLoopback: true,
      jkuHostSuffix: new URL(issuer).hostname,
    }),
  });

  const app = Fastify({ logger });
  // The verified claims, set on each request by the hook below.
  app.decorateRequest('token', null);

  /** The JSON error the book uses everywhere ({ error, error_description }) and its status. */
  function refuse(reply, status, error, description, wwwAuthenticate) {
    if (wwwAuthenticate) reply.header('www-authenticate', wwwAuthenticate);
    return reply
      .code(status)
      .header('cache-control', 'no-store')
      .send({ error, error_description: description });
  }

  // Runs before every route: no route below sees a request whose token has not been verified.
  app.addHook('onRequest', async (request, reply) => {
    // RFC 6750: `Authorization: Bearer <token>`, the scheme in any case. Whatever follows it goes to the
    // verifier, which says precisely what is wrong with it.
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
    if (!match) {
      // The book lists a missing token under invalid_token.
      return refuse(
        reply,
        401,
        'invalid_token',
        'missing: send the access token as "Authorization: Bearer <access token>"',
        'Bearer error="invalid_token"',
      );
    }
    try {
      request.token = (await verify(match[1])).payload;
    } catch (err) {
      if (!(err instanceof TokenVerificationError)) throw err; // a bug: Fastify answers 500
      // Log the code and the message, never the token (the message never contains it).
      request.log.info({ code: err.code }, `access token rejected: ${err.message}`);
      const description = `${err.code}: ${err.message}`;
      if (err.code === 'scope_missing') {
        // A genuine token that was not granted enough: 403, and say which scope is needed.
        return refuse(
          reply,
          403,
          'insufficient_scope',
          description,
          `Bearer error="insufficient_scope", scope="${REQUIRED_SCOPES.join(' ')}"`,
        );
      }
      if (err.code === 'jwks_fetch_failed') {
        // The issuer's keys could not be fetched: the token may well be good, so the caller should
        // retry rather than throw it away (which is what invalid_token tells it to do).
        return refuse(reply, 503, 'temporarily_unavailable', description);
      }
      return refuse(reply, 401, 'invalid_token', description, 'Bearer error="invalid_token"');
    }
  });

  // Only claims the verifier checked (or whose type it checked) are used. The book warns that others
  // may be absent or change meaning.
  app.get('/data/member/info', async (request, reply) => {
    const t = request.token;
    reply.header('cache-control', 'no-store');
    return {
      cust_id: t.iracing_cust_id ?? null,
      group_ids: t.iracing_group_ids ?? null,
      env: t.iracing_env ?? null,
      client_id: t.client_id ?? null,
      session_id: t.session_id ?? null,
    };
  });

  await app.listen({ host, port });
  const { port: actualPort } = app.server.address();
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${actualPort}`,
    app,
    close: () => app.close(),
  };
}

// Run directly (`node server.mjs`), not imported: start from the environment, stop on Ctrl-C.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await start({
    issuer: process.env.PADDOCK_ISSUER || DEFAULT_ISSUER,
    host: process.env.DATA_API_HOST || '127.0.0.1',
    port: Number(process.env.DATA_API_PORT || DEFAULT_PORT),
    logger: true,
  });
  console.error(
    `Data API on ${server.url}/data/member/info (tokens from ${process.env.PADDOCK_ISSUER || DEFAULT_ISSUER})`,
  );
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close());
}
