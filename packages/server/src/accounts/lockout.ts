// Lockout after repeated failed password checks. Every attempt counts as a failure until the password is
// found right (one atomic upsert), so parallel guesses cannot get past the threshold; a success clears
// the count. Counters are keyed so that a lockout is not a weapon (DESIGN: "Lockouts must not be a
// weapon"):
// - the sign-in page and password_limited never share a counter; the page's second factor has its own;
// - on the page, browsers that have signed in as the user before (accounts/known-browsers.ts) each
//   count alone; every other browser shares one count per user. Someone without the password can lock
//   the user out of new browsers, never out of one the user has already signed in with;
// - password_limited counts per client and user: only the client itself (it holds the secret, and the
//   user is on its access list) can lock that pair, and no other client can lock the user out of it.
import type { AppContext } from '../context.ts';
import { normalizeId } from '../oauth/masking.ts';

export type LockoutScope =
  | { channel: 'sign_in'; knownBrowser?: string }
  // The code asked after the password counts apart: a right password must not clear the count of
  // wrong codes, or whoever has the password could guess codes without end.
  | { channel: 'second_factor'; knownBrowser?: string }
  | { channel: 'password_limited'; clientId: string };

/** The counter a password attempt for this user counts on. */
export function lockoutKey(username: string, scope: LockoutScope): string {
  const user = normalizeId(username);
  const parts =
    scope.channel === 'password_limited'
      ? ['lockout', 'password_limited', scope.clientId, user]
      : scope.knownBrowser
        ? ['lockout', scope.channel, user, 'browser', scope.knownBrowser]
        : ['lockout', scope.channel, user];
  return parts.map(encodeURIComponent).join(':');
}

/** Counts an attempt; returns the seconds left of a lockout, or 0 when the attempt may proceed. */
export async function beginAttempt(ctx: AppContext, key: string, now: number): Promise<number> {
  const { lockoutThreshold, lockoutDuration } = ctx.config.passwordLimited;
  const hit = await ctx.store.counters.hit(key, lockoutDuration, now);
  return hit.hits > lockoutThreshold ? Math.max(1, hit.window_start + lockoutDuration - now) : 0;
}

export async function attemptSucceeded(ctx: AppContext, key: string): Promise<void> {
  await ctx.store.counters.reset(key);
}
