// The one password check, for the sign-in page and the password_limited grant alike:
// - the attempt counts on its lockout counter first (accounts/lockout.ts), so a locked user costs no
//   argon2 work and parallel guesses cannot pass the threshold;
// - who may not be signed in here (password_limited: not on the client's access list) is decided before
//   the password, and refused exactly as a wrong password, after the same argon2 work: the answer never
//   tells whether a password is right for a user the caller may not use;
// - only a right password of a user who may be signed in clears the counter.
import type { AppContext } from '../context.ts';
import type { UserRecord } from '../store/types.ts';
import { attemptSucceeded, beginAttempt, type LockoutScope, lockoutKey } from './lockout.ts';
import { verifyPassword } from './passwords.ts';

export type PasswordCheck =
  | { outcome: 'ok'; user: UserRecord }
  | { outcome: 'locked'; retryAfter: number }
  | { outcome: 'refused' };

export interface PasswordAttempt {
  /** Normalised (trimmed, lower-cased). */
  username: string;
  /** The password masked with the username, as clients send it and as it is hashed. */
  masked: string;
  lockout: LockoutScope;
  /** Whether this user may be signed in here at all; checked before the password. */
  mayUse?: (user: UserRecord) => Promise<boolean>;
}

export async function checkPassword(
  ctx: AppContext,
  attempt: PasswordAttempt,
  now: number,
): Promise<PasswordCheck> {
  const key = lockoutKey(attempt.username, attempt.lockout);
  const lockedFor = await beginAttempt(ctx, key, now);
  if (lockedFor > 0) return { outcome: 'locked', retryAfter: lockedFor };
  const found = await ctx.store.users.byUsername(attempt.username);
  const user = found && (!attempt.mayUse || (await attempt.mayUse(found))) ? found : undefined;
  // Without a user to check, verifyPassword still spends one verification's time.
  if (!(await verifyPassword(user?.password_hash, attempt.masked)) || !user) return { outcome: 'refused' };
  await attemptSucceeded(ctx, key);
  return { outcome: 'ok', user };
}
