import type { FastifyRequest } from 'fastify';
import { invalidToken } from '../oauth/errors.ts';

/** The access token of an `Authorization: Bearer` header (RFC 6750 section 2.1), or invalid_token. */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (!header)
    throw invalidToken('Authorization header with a Bearer token missing').because('token_invalid');
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!m)
    throw invalidToken('Authorization header must be "Bearer" followed by the access token').because(
      'token_invalid',
    );
  return m[1]!;
}

/** The address and user agent a bearer request is recorded with (see verifyBearer). */
export function bearerOrigin(request: FastifyRequest): { ip: string; userAgent: string | null } {
  return { ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
}
