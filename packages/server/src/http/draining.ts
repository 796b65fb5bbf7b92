import type { FastifyInstance } from 'fastify';
import { OAuthError } from '../oauth/errors.ts';

/** Seconds a client refused during shutdown is asked to wait: another instance can take it at once. */
const SHUTDOWN_RETRY_AFTER = 1;

/**
 * Shutdown as a load balancer expects it (SIGTERM, `app.close()`):
 * - a request already in flight finishes normally, and its response closes the connection;
 * - a request that arrives on a connection still open gets the book's 503 temporarily_unavailable with
 *   Connection: close (Fastify's own return503OnClosing answers with a body of its own, so it is off);
 * - connections that fall idle are closed at once, not at the end of their keep-alive timeout.
 */
export function installDraining(app: FastifyInstance): void {
  let closing = false;
  let reaper: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    // server.close() closes the connections idle at that moment; this closes those that become idle
    // later without having answered Connection: close (a response already on its way when closing began).
    reaper = setInterval(() => app.server.closeIdleConnections(), 250);
    reaper.unref();
  });
  app.addHook('onClose', async () => {
    clearInterval(reaper);
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new OAuthError('temporarily_unavailable', 'the server is shutting down', {
      headers: { 'Retry-After': String(SHUTDOWN_RETRY_AFTER) },
    });
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
}
