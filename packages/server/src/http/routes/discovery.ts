import type { FastifyInstance } from 'fastify';
import { endpoints } from '../../config.ts';
import type { AppContext } from '../../context.ts';
import { SCOPES } from '../../oauth/scopes.ts';
import { DEVICE_CODE_GRANT } from '../../store/types.ts';

/** RFC 8414 metadata, describing only what this server really does. */
export async function registerDiscovery(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const e = endpoints(ctx.config);
  const metadata = {
    issuer: ctx.config.issuer,
    authorization_endpoint: e.authorize,
    token_endpoint: e.token,
    device_authorization_endpoint: e.deviceAuthorization,
    jwks_uri: e.jwks,
    scopes_supported: Object.keys(SCOPES),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'password_limited', DEVICE_CODE_GRANT],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'none'],
    revocation_endpoint: e.revoke,
    revocation_endpoint_auth_methods_supported: ['client_secret_post', 'none'],
    introspection_endpoint: e.introspect,
    // Public clients cannot introspect: introspection answers confidential clients and resource servers.
    introspection_endpoint_auth_methods_supported: ['client_secret_post'],
    code_challenge_methods_supported: ['S256', 'plain'],
    authorization_response_iss_parameter_supported: true,
    service_documentation: `${e.book}/`,
    // Not a registered field: how long a rotated refresh token may be retried once when the answer to
    // its rotation was lost. Absent when the grace is 0 (strict single use).
    ...(ctx.config.refreshReuseGrace > 0 && {
      refresh_token_reuse_grace_seconds: ctx.config.refreshReuseGrace,
    }),
  };
  app.get(`${ctx.config.basePath}/.well-known/oauth-authorization-server`, async (_request, reply) => {
    reply.header('Cache-Control', 'public, max-age=300');
    return metadata;
  });
}
