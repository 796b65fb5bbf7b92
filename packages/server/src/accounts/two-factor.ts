// Two-factor sign-in with TOTP (RFC 6238): 30-second steps, six digits, a window of one step either
// side, and each accepted code usable once (the store keeps the step of the last accepted code and only
// accepts a later one, atomically). The secret is sealed with a key derived from the master key, with
// the user's id as associated data, so a sealed secret cannot be moved to another user. Ten recovery
// codes, shown once, are stored as hashes (they are random enough for a plain hash) and spent once.
// Wrong codes count on the sign-in page's limits (accounts/sign-in.ts) and on a lockout counter of
// their own (accounts/lockout.ts), which a right password does not clear.
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { AppContext } from '../context.ts';
import type { Store } from '../store/store.ts';
import { sha256 } from '../tokens/hash.ts';
import { decrypt, encrypt } from '../tokens/master-key.ts';
import { attemptSucceeded, beginAttempt, lockoutKey } from './lockout.ts';
import { type SignInLimit, signInLimits } from './sign-in.ts';

export const TOTP_PERIOD = 30;
export const TOTP_WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;
const ISSUER = 'Paddock';
const CODE = /^\d{6}$/;
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

// ---- pure rules

export function totpFor(secretBase32: string, username: string): TOTP {
  return new TOTP({
    issuer: ISSUER,
    label: username,
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD,
    secret: Secret.fromBase32(secretBase32),
  });
}

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** What a user typed, as a code: digits only, spaces allowed between them. */
export function normalizeCode(typed: string): string | undefined {
  const code = typed.replace(/\s+/g, '');
  return CODE.test(code) ? code : undefined;
}

/** The time step whose code this is, within the window around now; undefined for a wrong code. */
export function matchingStep(secretBase32: string, typed: string, nowMs: number): number | undefined {
  const code = normalizeCode(typed);
  if (!code) return undefined;
  const delta = totpFor(secretBase32, '-').validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  if (delta === null) return undefined;
  return Math.floor(nowMs / 1000 / TOTP_PERIOD) + delta;
}

/** Ten fresh recovery codes, as shown to the user: two groups of five letters and digits. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = randomBytes(10);
    const chars = Array.from(bytes, (b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** The stored form of a recovery code: case, spaces and dashes as typed do not matter. */
export function recoveryCodeHash(typed: string): string {
  return sha256(`paddock-recovery:${typed.toLowerCase().replace(/[^a-z0-9]/g, '')}`);
}

export function sealSecret(key: Buffer, secretBase32: string, userId: string): string {
  return encrypt(key, secretBase32, `totp:${userId}`);
}

export function openSecret(key: Buffer, sealed: string, userId: string): string {
  return decrypt(key, sealed, `totp:${userId}`);
}

// ---- with the store

export async function hasTwoFactor(store: Store, userId: string): Promise<boolean> {
  return (await store.twoFactor.getTotp(userId))?.enabled_at != null;
}

/** Starts an enrolment: a new secret (replacing an unfinished one); undefined when 2FA is already on. */
export async function beginEnrolment(
  ctx: AppContext,
  user: { user_id: string; username: string },
  now: number,
): Promise<{ secret: string; uri: string } | undefined> {
  const secret = newTotpSecret();
  const sealed = sealSecret(ctx.totpKey, secret, user.user_id);
  if (!(await ctx.store.twoFactor.beginEnrolment(user.user_id, sealed, now))) return undefined;
  return { secret, uri: totpFor(secret, user.username).toString() };
}

/** The secret of an unfinished enrolment, to show again. */
export async function pendingEnrolment(
  ctx: AppContext,
  user: { user_id: string; username: string },
): Promise<{ secret: string; uri: string } | undefined> {
  const row = await ctx.store.twoFactor.getTotp(user.user_id);
  if (!row || row.enabled_at !== null) return undefined;
  const secret = openSecret(ctx.totpKey, row.secret, user.user_id);
  return { secret, uri: totpFor(secret, user.username).toString() };
}

/** Enables 2FA with a valid code of the enrolment's secret; returns the recovery codes to show once. */
export async function finishEnrolment(
  ctx: AppContext,
  userId: string,
  typed: string,
  now: number,
): Promise<string[] | undefined> {
  const row = await ctx.store.twoFactor.getTotp(userId);
  if (!row || row.enabled_at !== null) return undefined;
  const step = matchingStep(openSecret(ctx.totpKey, row.secret, userId), typed, ctx.clock.now());
  if (step === undefined) return undefined;
  const codes = newRecoveryCodes();
  const enabled = await ctx.store.transaction(
    async (tx) =>
      (await tx.twoFactor.acceptStep(userId, step, true)) &&
      (await tx.twoFactor.enable(userId, codes.map(recoveryCodeHash), now)),
  );
  return enabled ? codes : undefined;
}

/** Checks a current code of an enabled second factor, spending it. */
export async function verifyTotp(ctx: AppContext, userId: string, typed: string): Promise<boolean> {
  const row = await ctx.store.twoFactor.getTotp(userId);
  if (!row || row.enabled_at === null) return false;
  const step = matchingStep(openSecret(ctx.totpKey, row.secret, userId), typed, ctx.clock.now());
  return step !== undefined && ctx.store.twoFactor.acceptStep(userId, step, false);
}

/** Turns 2FA off; every remembered browser of the user is forgotten with it. */
export async function disableTwoFactor(store: Store, userId: string, now: number): Promise<boolean> {
  return store.transaction(async (tx) => {
    const had = await tx.twoFactor.disable(userId);
    await tx.twoFactor.revokeUserRememberedBrowsers(userId, now);
    return had;
  });
}

export interface SecondFactorAttempt {
  ip: string;
  requestId: string;
  user: { user_id: string; username: string };
  /** A TOTP code, or a recovery code when `recovery` is set. */
  code: string;
  recovery: boolean;
  /** Hash of this browser's known-browser mark, for the lockout counter (as for the password). */
  knownBrowser: string | undefined;
}

export type SecondFactorOutcome =
  | { outcome: 'ok' }
  | { outcome: 'refused' }
  | { outcome: 'locked'; retryAfter: number }
  | SignInLimit;

/** The code asked after the password, behind the same limits and a lockout of its own. */
export async function checkSecondFactor(
  ctx: AppContext,
  attempt: SecondFactorAttempt,
  now: number,
): Promise<SecondFactorOutcome> {
  const limited = await signInLimits(ctx, attempt, now);
  if (limited) return limited;
  const key = lockoutKey(attempt.user.username, {
    channel: 'second_factor',
    ...(attempt.knownBrowser && { knownBrowser: attempt.knownBrowser }),
  });
  const lockedFor = await beginAttempt(ctx, key, now);
  if (lockedFor > 0) return { outcome: 'locked', retryAfter: lockedFor };
  const ok = attempt.recovery
    ? await ctx.store.twoFactor.useRecoveryCode(attempt.user.user_id, recoveryCodeHash(attempt.code), now)
    : await verifyTotp(ctx, attempt.user.user_id, attempt.code);
  if (!ok) return { outcome: 'refused' };
  await attemptSucceeded(ctx, key);
  return { outcome: 'ok' };
}
