import type { FastifyServerOptions } from 'fastify';
import type { Config } from '../config.ts';

/**
 * Fastify's trustProxy for the configured proxies. Fastify ignores a bare hop count (it cannot tell a
 * proxy from a direct client), so a count becomes a function trusting that many hops from the socket:
 * the operator who sets one vouches that Paddock is reachable only through those proxies.
 */
export function trustedProxies(trust: Config['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust;
  return trust;
}
