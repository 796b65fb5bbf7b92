// RFC 8628's Device Access Token Request: the device polls with its device code until the user has
// decided on the device page.
// - pending: authorization_pending, or slow_down when polled before its interval has passed (the
//   interval then grows by 5 s); denied: access_denied; past its lifetime: expired_token;
// - approved: the code is spent by one conditional UPDATE (of two racing polls, one gets tokens) and the
//   tokens are those of the authorization code grant: the same session, claims and refresh token;
// - the client has been authenticated by the /token endpoint (http/routes/token.ts) before this runs.

import { seconds } from '../clock.ts';
import { SLOW_DOWN_PENALTY } from '../oauth/device.ts';
import { invalidGrant, OAuthError } from '../oauth/errors.ts';
import { required } from '../oauth/form.ts';
import { type PreparedSession, prepareSession, saveSession, sessionTokens } from '../sessions/create.ts';
import { DEVICE_CODE_GRANT } from '../store/types.ts';
import { sha256 } from '../tokens/hash.ts';
import type { GrantHandler } from './types.ts';

export const deviceCode: GrantHandler = async (ctx, req, client) => {
  const hash = sha256(required(req.form, 'device_code'));
  const now = seconds(ctx.clock);
  // Refusals are returned, not thrown, so that the transaction commits what a poll records (its time,
  // a raised interval).
  const outcome = await ctx.store.transaction(async (tx): Promise<OAuthError | PreparedSession> => {
    const d = await tx.device.get(hash);
    if (!d || d.client_id !== client.client_id) return invalidGrant('device_code is not valid');
    if (d.status === 'used') return invalidGrant('device_code was already used');
    if (d.expires_at <= now) {
      return new OAuthError('expired_token', 'the device code has expired: request a new one');
    }
    if (d.status === 'denied') {
      // RFC 8628 section 3.5 answers 400, as every /token error of RFC 6749 section 5.2.
      return new OAuthError('access_denied', 'the user denied the request', { status: 400 });
    }
    if (d.status === 'pending') {
      if (!(await tx.device.poll(hash, SLOW_DOWN_PENALTY, now))) {
        const interval = d.poll_interval + SLOW_DOWN_PENALTY;
        return new OAuthError(
          'slow_down',
          `polled too soon: wait at least ${interval} seconds between polls`,
        );
      }
      return new OAuthError('authorization_pending', 'the user has not yet entered the code and decided');
    }
    if (!(await tx.device.consume(hash, client.client_id, now)))
      return invalidGrant('device_code was already used');
    const user = d.user_id ? await tx.users.byId(d.user_id) : undefined;
    if (!user) return invalidGrant('the user of this device code no longer exists');
    const p = prepareSession(
      ctx,
      {
        user,
        client,
        scope: d.scope,
        grantType: DEVICE_CODE_GRANT,
        authTime: d.auth_time ?? now,
        ip: d.ip,
        userAgent: d.user_agent,
      },
      now,
    );
    await saveSession(tx, p, now);
    return p;
  });
  if (outcome instanceof OAuthError) throw outcome;
  return sessionTokens(ctx, outcome, now);
};
