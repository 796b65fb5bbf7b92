// The book's session revocation (/revoke/current, /revoke/sessions, /revoke/client): a bearer of a live
// session acts on its own user's sessions with its own client, never anyone else's.
// - forget_browser is "true" or "false"; session_ids is a comma-separated list of session ids;
// - /revoke/sessions is all or nothing: an id that is not a live session of this user and client
//   revokes none of them.
// The account page (beyond the book) ends sessions through the same rules, for the signed-in user and
// any client: only that user's live sessions, and a refusal changes nothing.
import type { AppContext } from '../context.ts';
import { accessDenied, invalidRequest } from '../oauth/errors.ts';

/** Whose sessions a request may touch: the user and client of its access token. */
export interface SessionOwner {
  session_id: string;
  sub: string;
  client_id: string;
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REASON = 'revoked_by_client';
const BY_USER = 'revoked_by_user';

export function parseForgetBrowser(raw: string | undefined): boolean {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  throw invalidRequest('forget_browser must be true or false');
}

/** The distinct session ids of a session_ids parameter. */
export function parseSessionIds(raw: string | undefined): string[] {
  if (!raw) throw invalidRequest('session_ids missing');
  const ids = [...new Set(raw.split(',').map((id) => id.trim()))];
  if (ids.some((id) => !SESSION_ID.test(id))) {
    throw invalidRequest('session_ids must be comma-separated session ids');
  }
  return ids;
}

/** Ends the calling session; with forgetBrowser, the 2FA bypass of the browser it came from goes too. */
export async function revokeCurrentSession(
  ctx: AppContext,
  owner: SessionOwner,
  now: number,
  forgetBrowser = false,
): Promise<void> {
  await ctx.store.transaction(async (tx) => {
    await tx.revokeSession(owner.session_id, REASON, now);
    if (!forgetBrowser) return;
    const bypass = await tx.twoFactor.sessionBypass(owner.session_id);
    if (bypass) await tx.twoFactor.revokeRememberedBrowser(bypass, now, owner.sub);
  });
}

export async function revokeSessionsById(
  ctx: AppContext,
  owner: SessionOwner,
  ids: readonly string[],
  now: number,
): Promise<void> {
  const foreign = await revokeLive(ctx, owner.sub, owner.client_id, ids, REASON, now);
  if (foreign) throw invalidRequest(`session ${foreign} is not a live session of this user with this client`);
}

/** The account page: the user ends one of their own live sessions; false (nothing changed) otherwise. */
export async function revokeOwnSession(
  ctx: AppContext,
  userId: string,
  sessionId: string,
  now: number,
): Promise<boolean> {
  const session = SESSION_ID.test(sessionId) ? await ctx.store.getSession(sessionId) : undefined;
  if (!session || session.user_id !== userId) return false;
  return (await revokeLive(ctx, userId, session.client_id, [sessionId], BY_USER, now)) === undefined;
}

export async function revokeClientSessions(
  ctx: AppContext,
  owner: SessionOwner,
  now: number,
): Promise<number> {
  // A staff member acting as the user may end their own session, never the user's other ones.
  const session = await ctx.store.getSession(owner.session_id);
  if (!session || Number(session.impersonated) === 1) {
    throw accessDenied('the session must be a user session');
  }
  return revokeAllWithClient(ctx, owner.sub, owner.client_id, REASON, now);
}

/** The account page: the user ends all their sessions with one client; 0 (nothing changed) when none is live. */
export async function revokeOwnClientSessions(
  ctx: AppContext,
  userId: string,
  clientId: string,
  now: number,
): Promise<number> {
  return revokeAllWithClient(ctx, userId, clientId, BY_USER, now);
}

/** Revokes the ids when each is a live session of the user with the client; else returns one that is not. */
async function revokeLive(
  ctx: AppContext,
  userId: string,
  clientId: string,
  ids: readonly string[],
  reason: string,
  now: number,
): Promise<string | undefined> {
  return ctx.store.transaction(async (tx) => {
    const live = await tx.liveSessions(userId, clientId, now);
    const mine = new Set(live.map((s) => s.session_id));
    const foreign = ids.find((id) => !mine.has(id));
    if (foreign) return foreign;
    for (const id of ids) await tx.revokeSession(id, reason, now);
    return undefined;
  });
}

async function revokeAllWithClient(
  ctx: AppContext,
  userId: string,
  clientId: string,
  reason: string,
  now: number,
): Promise<number> {
  return ctx.store.transaction(async (tx) => {
    if ((await tx.liveSessions(userId, clientId, now)).length === 0) return 0;
    return tx.revokeUserClientSessions(userId, clientId, reason, now);
  });
}
