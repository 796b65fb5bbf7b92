// The book's Password Limited grant (an in-house extension of OAuth 2.1):
// - confidential clients allowed the grant only; the user must be on the client's access list (at most 3),
//   checked before the password, and a user not on it is refused exactly as a wrong password is;
// - the password arrives masked with the username and is checked against its argon2id hash;
// - rate limits per client+user and per IP, reported in RateLimit-* headers on every response;
//   past a limit: 400 unauthorized_client with Retry-After; repeated failures lock the user out of this
//   client (counters of its own, apart from the sign-in page's: accounts/lockout.ts);
// - an inactive subscription is invalid_grant; two-factor is never asked.

import { checkPassword } from '../accounts/check-password.ts';
import { seconds } from '../clock.ts';
import type { AppContext } from '../context.ts';
import type { RateLimitBucket as BucketName } from '../metrics/metrics.ts';
import { accessDenied, invalidGrant, unauthorizedClient } from '../oauth/errors.ts';
import { optional, required } from '../oauth/form.ts';
import { looksMasked, normalizeId } from '../oauth/masking.ts';
import { formatScope, parseScope } from '../oauth/scopes.ts';
import { startSession } from '../sessions/create.ts';
import type { GrantHandler, GrantRequest, RateLimitBucket } from './types.ts';

/** Counts one hit in a rate-limit bucket of this request; past its limit, the book's 400 unauthorized_client. */
function counter(ctx: AppContext, req: GrantRequest) {
  const now = seconds(ctx.clock);
  const pl = ctx.config.passwordLimited;
  const buckets = req.rateLimits;
  return async (key: string, limit: number, name: BucketName) => {
    const hit = await ctx.store.counters.hit(key, pl.window, now);
    const bucket = { limit, hits: hit.hits, resetAt: hit.window_start + pl.window };
    buckets.push(bucket);
    setRateLimitHeaders(req.headers, buckets, now);
    if (hit.hits > limit) {
      ctx.metrics.rateLimitExceeded(name);
      throw unauthorizedClient(
        'rate limit for the password_limited grant exceeded; use the refresh_token grant',
        {
          status: 400,
          headers: { 'Retry-After': String(Math.max(1, bucket.resetAt - now)) },
          reason: 'rate_limited',
        },
      );
    }
  };
}

/** The per-IP limit is counted before client authentication, so callers without a client are limited too. */
export const countPasswordLimitedIp = (ctx: AppContext, req: GrantRequest) =>
  counter(ctx, req)(`password_limited:ip:${req.ip}`, ctx.config.passwordLimited.ipLimit, 'ip');

export const passwordLimited: GrantHandler = async (ctx, req, client) => {
  const now = seconds(ctx.clock);
  const pl = ctx.config.passwordLimited;
  const count = counter(ctx, req);
  const username = normalizeId(required(req.form, 'username'));
  const password = required(req.form, 'password');
  const scope = formatScope(parseScope(optional(req.form, 'scope')));
  await count(
    `password_limited:client_user:${client.client_id}:${username}`,
    pl.clientUserLimit,
    'client_user',
  );

  const check = await checkPassword(
    ctx,
    {
      username,
      masked: password,
      lockout: { channel: 'password_limited', clientId: client.client_id },
      mayUse: (u) => ctx.store.isUserAllowed(client.client_id, u.user_id),
    },
    now,
  );
  if (check.outcome === 'locked') {
    ctx.metrics.lockoutRefused('password_limited');
    throw unauthorizedClient('too many failed sign-ins for this user; it is locked for a while', {
      status: 400,
      headers: { 'Retry-After': String(check.retryAfter) },
      reason: 'user_locked',
    });
  }
  // One answer for a wrong password, an unknown user and a user not on the access list: the grant
  // must not tell a client whether a password is right for a user it may not use.
  if (check.outcome === 'refused') {
    throw looksMasked(password)
      ? accessDenied('username or password is not correct').because('password_refused')
      : accessDenied(
          'username or password is not correct: the password must be masked with the username before it is sent',
        ).because('password_unmasked');
  }
  const user = check.user;
  if (!user.subscription_active) throw invalidGrant('user has no active subscription');

  return startSession(
    ctx,
    {
      user,
      client,
      scope,
      grantType: 'password_limited',
      authTime: now,
      ip: req.ip,
      userAgent: req.userAgent,
    },
    now,
  );
};

/** Reports the bucket closest to its limit, as the RateLimit-* headers the book describes. */
function setRateLimitHeaders(headers: Record<string, string>, buckets: RateLimitBucket[], now: number): void {
  let tightest = buckets[0]!;
  for (const b of buckets) if (b.limit - b.hits < tightest.limit - tightest.hits) tightest = b;
  headers['RateLimit-Limit'] = String(tightest.limit);
  headers['RateLimit-Remaining'] = String(Math.max(0, tightest.limit - tightest.hits));
  headers['RateLimit-Reset'] = String(Math.max(0, tightest.resetAt - now));
}
