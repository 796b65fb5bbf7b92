import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.ts';

/**
 * Counts and times every answered request by its route pattern (never the raw URL: paths carry ids and
 * query strings, which would leak into labels and grow them without bound). Unrouted requests share one
 * label. Fastify's own clock times the request, so nothing is stored per request.
 */
export function countRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.request(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}
