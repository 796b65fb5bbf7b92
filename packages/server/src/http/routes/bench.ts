// Load-benchmark hook (see bench/): mints refresh tokens through the same session code the grants use,
// so a benchmark measures the token endpoint and not the minting. Only registered when
// PADDOCK_BENCH_KEY is set, and only answers loopback callers presenting that key.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { invalidRequest, OAuthError } from '../../oauth/errors.ts';
import { startSession } from '../../sessions/create.ts';

export async function registerBench(app: FastifyInstance, ctx: AppContext, key: string): Promise<void> {
  const expected = Buffer.from(key);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(invalidRequest('body is not JSON'), undefined);
    }
  });
  const guard = (ip: string, presented: string | string[] | undefined) => {
    const got = Buffer.from(String(presented ?? ''));
    const loopback = ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
    if (!loopback || got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new OAuthError('access_denied', 'bench hook: wrong key');
    }
  };
  const base = `${ctx.config.basePath}/__bench`;
  app.post(`${base}/mint`, async (request) => {
    guard(request.ip, request.headers['x-bench-key']);
    const { kind, client: which, n } = request.body as { kind?: string; client?: string; n?: number };
    if (kind !== 'refresh_token') throw invalidRequest('bench hook: only kind "refresh_token" is supported');
    const clientId =
      which === 'public' ? process.env.PADDOCK_BENCH_PUBLIC_CLIENT : process.env.PADDOCK_BENCH_CLIENT;
    const client = clientId ? await ctx.store.getClient(clientId) : undefined;
    const user = await ctx.store.getUserByUsername(process.env.PADDOCK_BENCH_USER ?? '');
    if (!client || !user)
      throw invalidRequest('bench hook: PADDOCK_BENCH_CLIENT and PADDOCK_BENCH_USER must exist');
    const count = Math.min(Math.max(Number(n) || 0, 0), 200_000);
    const now = seconds(ctx.clock);
    const items: string[] = [];
    for (let i = 0; i < count; i++) {
      const t = await startSession(
        ctx,
        {
          user,
          client,
          scope: 'iracing.auth',
          grantType: 'password_limited',
          authTime: now,
          ip: '127.0.0.1',
          userAgent: 'paddock-bench',
        },
        now,
      );
      items.push(t.refresh_token!);
    }
    return { items };
  });
  app.post(`${base}/reset`, async (request) => {
    guard(request.ip, request.headers['x-bench-key']);
    await ctx.store.db.run("DELETE FROM sessions WHERE first_user_agent = 'paddock-bench'");
    return { ok: true };
  });
}
