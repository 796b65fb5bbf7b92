// When an account changes, the sessions it opened end with it:
// - a new password ends every browser session and every client session of the user, and forgets every
//   browser remembered for two-factor sign-in, since whoever knew the old one may hold them (their refresh tokens then get invalid_grant, their access tokens
//   invalid_token);
// - a lapsed subscription signs the user out of every browser; client sessions are refused at each
//   refresh while it lasts, and carry on when it is renewed.
import type { Store } from '../store/store.ts';

export async function endSessionsAfterPasswordChange(
  store: Store,
  userId: string,
  now: number,
): Promise<void> {
  await store.flow.revokeUserBrowserSessions(userId, now);
  await store.revokeUserSessions(userId, 'password_changed', now);
  await store.twoFactor.revokeUserRememberedBrowsers(userId, now);
}

export async function endSessionsAfterSubscriptionLapsed(
  store: Store,
  userId: string,
  now: number,
): Promise<void> {
  await store.flow.revokeUserBrowserSessions(userId, now);
}
