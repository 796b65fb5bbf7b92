// When an account changes, or its user signs out everywhere, the sessions it opened end with it:
// - a new password ends every browser session and every client session of the user, and forgets every
//   browser remembered for two-factor sign-in, since whoever knew the old one may hold them (their
//   refresh tokens then get invalid_grant, their access tokens invalid_token);
// - "Sign out everywhere" on the account page does the same;
// - a lapsed subscription signs the user out of every browser; client sessions are refused at each
//   refresh while it lasts, and carry on when it is renewed.
import type { Store } from '../store/store.ts';

export async function endSessionsAfterPasswordChange(
  store: Store,
  userId: string,
  now: number,
): Promise<void> {
  await endEverywhere(store, userId, 'password_changed', now);
}

/** The account page's "Sign out everywhere": the same as after a new password, in one transaction. */
export async function signOutEverywhere(store: Store, userId: string, now: number): Promise<void> {
  await store.transaction((tx) => endEverywhere(tx, userId, 'signed_out_everywhere', now));
}

async function endEverywhere(store: Store, userId: string, reason: string, now: number): Promise<void> {
  await store.flow.revokeUserBrowserSessions(userId, now);
  await store.revokeUserSessions(userId, reason, now);
  await store.twoFactor.revokeUserRememberedBrowsers(userId, now);
}

export async function endSessionsAfterSubscriptionLapsed(
  store: Store,
  userId: string,
  now: number,
): Promise<void> {
  await store.flow.revokeUserBrowserSessions(userId, now);
}
