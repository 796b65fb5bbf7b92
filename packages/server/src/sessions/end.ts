// When an account changes, or its user signs out everywhere, the sessions it opened end with it:
// - a new password ends every browser session and every client session of the user, and forgets every
//   browser remembered for two-factor sign-in, since whoever knew the old one may hold them (their
//   refresh tokens then get invalid_grant, their access tokens invalid_token);
// - "Sign out everywhere" on the account page does the same;
// - a lapsed subscription signs the user out of every browser; client sessions are refused at each
//   refresh while it lasts, and carry on when it is renewed;
// - a user who withdraws from a client's password_limited access list ends their sessions of that client
//   (their refresh tokens then get invalid_grant).
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

/** Returns how many sessions ended. */
export function endSessionsAfterAccessWithdrawn(
  store: Store,
  userId: string,
  clientId: string,
  now: number,
): Promise<number> {
  return store.revokeUserClientSessions(userId, clientId, 'access_withdrawn', now);
}
