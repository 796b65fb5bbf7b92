// Lockout after repeated failed sign-ins, shared by the password_limited grant and the sign-in page.
// Every attempt counts as a failure until the password is found right (one atomic upsert), so parallel
// guesses cannot get past the threshold; a success clears the count.
import type { AppContext } from '../context.ts';
import { normalizeId } from '../oauth/masking.ts';

const key = (username: string) => `lockout:${normalizeId(username)}`;

/** Counts an attempt; returns the seconds left of a lockout, or 0 when the attempt may proceed. */
export async function beginAttempt(ctx: AppContext, username: string, now: number): Promise<number> {
  const { lockoutThreshold, lockoutDuration } = ctx.config.passwordLimited;
  const hit = await ctx.store.hit(key(username), lockoutDuration, now);
  return hit.hits > lockoutThreshold ? Math.max(1, hit.window_start + lockoutDuration - now) : 0;
}

export async function attemptSucceeded(ctx: AppContext, username: string): Promise<void> {
  await ctx.store.resetCounter(key(username));
}
