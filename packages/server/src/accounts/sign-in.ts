// Signing in on the sign-in page, in an order that keeps argon2 work behind every limit:
// - attempts per IP and overall per window (PADDOCK_SIGN_IN_*), counted before anything else, so a
//   flood from one address, or from many, costs a counter update each and no password hashing;
// - a sign-in request (request_id) admits MAX_ATTEMPTS_PER_REQUEST attempts, then it is spent: the user
//   goes back to the app and starts again, so one request and its CSRF token cannot be replayed forever;
// - then the one password check (accounts/check-password.ts) on the page's own lockout counters,
//   counted per browser the user has signed in with before, or per user for every other browser.
import type { AppContext } from '../context.ts';
import { mask } from '../oauth/masking.ts';
import { overLimit } from '../rate-limit.ts';
import { sha256 } from '../tokens/hash.ts';
import { checkPassword, type PasswordCheck } from './check-password.ts';

export const MAX_ATTEMPTS_PER_REQUEST = 10;
/** Longer than any pending request lives; the key is unique to the request anyway. */
const REQUEST_COUNTER_WINDOW = 86400;

export interface SignInAttempt {
  ip: string;
  requestId: string;
  /** Normalised. */
  username: string;
  /** As typed: the page masks it exactly as API clients do. */
  password: string;
  /** This browser's mark for this user (accounts/known-browsers.ts), when it has signed in as the user. */
  knownBrowser: string | undefined;
}

export type SignInOutcome = PasswordCheck | SignInLimit;

export type SignInLimit =
  | { outcome: 'throttled'; by: 'ip' | 'everyone'; retryAfter: number }
  | { outcome: 'request_spent' };

/**
 * The limits every attempt on the sign-in pages counts against, the password's and the second factor's
 * alike: per IP, overall, and per pending request. Undefined when the attempt may go on.
 */
export async function signInLimits(
  ctx: AppContext,
  attempt: { ip: string; requestId: string },
  now: number,
): Promise<SignInLimit | undefined> {
  const { window, ipLimit, globalLimit } = ctx.config.signIn;
  const ipWait = await overLimit(ctx.store, `sign_in:ip:${attempt.ip}`, ipLimit, window, now);
  if (ipWait > 0) return { outcome: 'throttled', by: 'ip', retryAfter: ipWait };
  const globalWait = await overLimit(ctx.store, 'sign_in:global', globalLimit, window, now);
  if (globalWait > 0) return { outcome: 'throttled', by: 'everyone', retryAfter: globalWait };

  const tries = await ctx.store.counters.hit(
    `sign_in:request:${attempt.requestId}`,
    REQUEST_COUNTER_WINDOW,
    now,
  );
  if (tries.hits > MAX_ATTEMPTS_PER_REQUEST) {
    await ctx.store.flow.finishAuthorizationRequest(attempt.requestId);
    return { outcome: 'request_spent' };
  }
  return undefined;
}

export async function signInWithPassword(
  ctx: AppContext,
  attempt: SignInAttempt,
  now: number,
): Promise<SignInOutcome> {
  const limited = await signInLimits(ctx, attempt, now);
  if (limited) return limited;

  return checkPassword(
    ctx,
    {
      username: attempt.username,
      masked: mask(attempt.password, attempt.username),
      // The counter names the browser by a hash of its mark: the mark itself stays in the cookie.
      lockout: {
        channel: 'sign_in',
        ...(attempt.knownBrowser && { knownBrowser: sha256(attempt.knownBrowser) }),
      },
    },
    now,
  );
}
