// The sign-in sequence of the browser pages, /authorize's and the account page's alike:
// 1. the password, behind every limit and lockout (accounts/sign-in.ts);
// 2. for a user with two-factor sign-in, a browser remembered for it skips the code, unless the request
//    asks to verify (prompt=verify), which forgets it instead; otherwise the user owes a code;
// 3. the code or a recovery code, behind the same limits and a lockout of its own (accounts/two-factor.ts),
//    with "remember this browser";
// 4. the browser session, which records the remembered browser it came through (for forget_browser).
// The routes hold the half-signed-in user between steps 2 and 3, each in its own way, and render.
import type { AppContext } from '../context.ts';
import type { UserRecord } from '../store/types.ts';
import { sha256 } from '../tokens/hash.ts';
import { type SignInLimit, signInWithPassword } from './sign-in.ts';
import { checkSecondFactor, hasTwoFactor } from './two-factor.ts';

/** What the sequence needs of the browser signing in (http/browser.ts makes one from its cookies). */
export interface SigningInBrowser<S extends { hash: string }> {
  ip: string;
  /** This browser's mark for the user (accounts/known-browsers.ts), when it has signed in as them. */
  knownBrowser(username: string): string | undefined;
  /** The hash of the browser's 2FA bypass, when it carries one. */
  bypass(): string | undefined;
  /** Forgets the browser's bypass, server-side and in the browser. */
  forgetBypass(now: number): Promise<void>;
  /** Remembers the browser for the user's second factor; returns the new bypass's hash. */
  rememberForTwoFactor(userId: string, now: number): Promise<string>;
  /** Starts the browser's session. */
  startSession(userId: string, now: number): Promise<S>;
  /** Marks the browser as one the user has signed in with. */
  markKnown(username: string): void;
}

type Refusal = SignInLimit | { outcome: 'locked'; retryAfter: number } | { outcome: 'refused' };
type SignedIn<S> = { outcome: 'signed_in'; user: UserRecord; session: S };

export async function passwordStep<S extends { hash: string }>(
  ctx: AppContext,
  browser: SigningInBrowser<S>,
  attempt: { requestId: string; username: string; password: string; verify: boolean },
  now: number,
): Promise<Refusal | SignedIn<S> | { outcome: 'code_needed'; user: UserRecord }> {
  const result = await signInWithPassword(
    ctx,
    {
      ip: browser.ip,
      requestId: attempt.requestId,
      username: attempt.username,
      password: attempt.password,
      knownBrowser: browser.knownBrowser(attempt.username),
    },
    now,
  );
  if (result.outcome !== 'ok') return result;
  const user = result.user;
  if (!(await hasTwoFactor(ctx.store, user.user_id))) return signedIn(ctx, browser, user, null, now);
  const bypass = browser.bypass();
  // To verify is to give every factor again, and the browser is no longer remembered.
  if (attempt.verify) await browser.forgetBypass(now);
  else if (bypass && (await ctx.store.twoFactor.useRememberedBrowser(bypass, user.user_id, now, browser.ip)))
    return signedIn(ctx, browser, user, bypass, now);
  return { outcome: 'code_needed', user };
}

export async function codeStep<S extends { hash: string }>(
  ctx: AppContext,
  browser: SigningInBrowser<S>,
  attempt: { requestId: string; user: UserRecord; code: string; recovery: boolean; remember: boolean },
  now: number,
): Promise<Refusal | SignedIn<S>> {
  const mark = browser.knownBrowser(attempt.user.username);
  const result = await checkSecondFactor(
    ctx,
    {
      ip: browser.ip,
      requestId: attempt.requestId,
      user: attempt.user,
      code: attempt.code,
      recovery: attempt.recovery,
      knownBrowser: mark && sha256(mark),
    },
    now,
  );
  if (result.outcome !== 'ok') return result;
  const bypass = attempt.remember ? await browser.rememberForTwoFactor(attempt.user.user_id, now) : null;
  return signedIn(ctx, browser, attempt.user, bypass, now);
}

async function signedIn<S extends { hash: string }>(
  ctx: AppContext,
  browser: SigningInBrowser<S>,
  user: UserRecord,
  bypass: string | null,
  now: number,
): Promise<SignedIn<S>> {
  const session = await browser.startSession(user.user_id, now);
  if (bypass) await ctx.store.twoFactor.setBrowserSessionBypass(session.hash, bypass);
  browser.markKnown(user.username);
  return { outcome: 'signed_in', user, session };
}
