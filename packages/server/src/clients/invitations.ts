// The book's password_limited access list, filled by invitation instead of "by contacting us":
// - a developer (or an operator) invites a user by email address to a confidential client that uses the
//   grant; the user approves or declines on their account page; only users on the list may use the grant;
// - pending invitations and users on the list together take at most three places (the book's limit), so
//   a fourth invitation is refused, and a pending one holds its place against `clients allow-user` too;
// - an invitation expires after seven days and can then no longer be approved;
// - an invitation is answered only by the user it is addressed to, once;
// - a user may withdraw at any time: they leave the list and their sessions of that client end;
// - every act is audited against the client, with its actor.
import { randomUUID } from 'node:crypto';
import { seconds } from '../clock.ts';
import { type Actor, type AuditContext, audit } from '../jobs/audit.ts';
import { normalizeId } from '../oauth/masking.ts';
import { endSessionsAfterAccessWithdrawn } from '../sessions/end.ts';
import type { AllowedClientRow, InvitationRow, InvitationStatus } from '../store/invitations.ts';
import { MAX_PASSWORD_LIMITED_USERS, type Store } from '../store/store.ts';
import type { ClientRecord } from '../store/types.ts';

export const INVITATION_TTL = 7 * 86400;
const MAX_EMAIL = 320;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export type InvitationProblem = 'invalid' | 'not_found' | 'full' | 'conflict' | 'expired';

/** A refusal, with a message for the person who asked and a kind the caller maps to its answer. */
export class InvitationError extends Error {
  override name = 'InvitationError';
  constructor(
    readonly problem: InvitationProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface Invitation {
  invitation_id: string;
  client_id: string;
  username: string;
  /** 'expired' is a pending invitation past its time. */
  status: InvitationStatus | 'expired';
  created_at: number;
  expires_at: number;
  decided_at: number | null;
}

/** An invitation as its user sees it: which client, and whose. */
export interface PendingInvitation {
  invitation_id: string;
  client_id: string;
  client_name: string;
  /** The client's developer: its owner_email, else its developer email. */
  developer: string;
  expires_at: number;
}

export interface AllowedClient {
  client_id: string;
  client_name: string;
  developer: string;
  since: number;
}

/** Who answers an invitation or withdraws: the signed-in user. */
export interface InvitedUser {
  user_id: string;
  username: string;
}

function view(row: InvitationRow, now: number): Invitation {
  const status = row.status === 'pending' && Number(row.expires_at) <= now ? 'expired' : row.status;
  return {
    invitation_id: row.invitation_id,
    client_id: row.client_id,
    username: row.username,
    status,
    created_at: Number(row.created_at),
    expires_at: Number(row.expires_at),
    decided_at: row.decided_at === null ? null : Number(row.decided_at),
  };
}

const developerOf = (c: { owner_email: string | null; developer_email: string | null }) =>
  c.owner_email ?? c.developer_email ?? 'an unnamed developer';

const clientObject = (id: string) => ({ type: 'client', id });

async function invitableClient(store: Store, clientId: string): Promise<ClientRecord> {
  const client = await store.getClient(clientId);
  if (!client) throw new InvitationError('not_found', `no client ${clientId}`);
  if (client.client_type !== 'confidential' || !client.grant_types.includes('password_limited')) {
    throw new InvitationError(
      'invalid',
      `client ${clientId} does not use the password_limited grant: only a confidential client with that grant has an access list`,
    );
  }
  return client;
}

/** Invites a user, by email address, to a client's password_limited access list. */
export async function inviteUser(
  ctx: AuditContext,
  clientId: string,
  email: string,
  opts: { actor: Actor },
): Promise<Invitation> {
  const username = normalizeId(email);
  if (username.length > MAX_EMAIL || !EMAIL.test(username)) {
    throw new InvitationError('invalid', `"${email}" is not an email address`);
  }
  return ctx.store.transaction(async (tx) => {
    await invitableClient(tx, clientId);
    await tx.invitations.lockClient(clientId);
    const now = seconds(ctx.clock);
    if (await tx.invitations.pendingFor(clientId, username, now)) {
      throw new InvitationError('conflict', `${username} is already invited to client ${clientId}`);
    }
    const user = await tx.users.byUsername(username);
    if (user && (await tx.isUserAllowed(clientId, user.user_id))) {
      throw new InvitationError(
        'conflict',
        `${username} is already on the access list of client ${clientId}`,
      );
    }
    if ((await tx.invitations.placesTaken(clientId, now)) >= MAX_PASSWORD_LIMITED_USERS) {
      throw new InvitationError(
        'full',
        `client ${clientId} may have at most ${MAX_PASSWORD_LIMITED_USERS} users on its password_limited access list, ` +
          'counting pending invitations: withdraw an invitation or remove a user first',
      );
    }
    const row: InvitationRow = {
      invitation_id: randomUUID(),
      client_id: clientId,
      username,
      status: 'pending',
      created_at: now,
      expires_at: now + INVITATION_TTL,
      decided_at: null,
    };
    await tx.invitations.insert(row);
    await audit({ store: tx, clock: ctx.clock }, opts.actor, 'client.user_invited', clientObject(clientId), {
      username,
      invitation_id: row.invitation_id,
      expires_at: new Date(row.expires_at * 1000).toISOString(),
    });
    return view(row, now);
  });
}

/** Every invitation of a client, newest first. */
export async function listInvitations(ctx: AuditContext, clientId: string): Promise<Invitation[]> {
  if (!(await ctx.store.getClient(clientId))) throw new InvitationError('not_found', `no client ${clientId}`);
  const now = seconds(ctx.clock);
  return (await ctx.store.invitations.listForClient(clientId)).map((r) => view(r, now));
}

/** The invitations a user can still answer. */
export async function pendingInvitations(ctx: AuditContext, username: string): Promise<PendingInvitation[]> {
  const rows = await ctx.store.invitations.pendingForUser(username, seconds(ctx.clock));
  return rows.map((r) => ({
    invitation_id: r.invitation_id,
    client_id: r.client_id,
    client_name: r.client_name,
    developer: developerOf(r),
    expires_at: Number(r.expires_at),
  }));
}

/** The clients whose access list the user is on (by invitation or by the operator). */
export async function allowedClients(ctx: AuditContext, userId: string): Promise<AllowedClient[]> {
  return (await ctx.store.invitations.allowedClients(userId)).map((r: AllowedClientRow) => ({
    client_id: r.client_id,
    client_name: r.client_name,
    developer: developerOf(r),
    since: Number(r.created_at),
  }));
}

const noSuchInvitation = () => new InvitationError('not_found', 'No such invitation.');

/**
 * Answers an invitation addressed to `user`. Someone else's invitation is "no such invitation", as an
 * unknown id is. An expired one is refused, and the refusal audited.
 */
async function answer(
  ctx: AuditContext,
  invitationId: string,
  user: InvitedUser,
  decision: 'approved' | 'declined',
  actor: Actor,
): Promise<{ client_id: string; client_name: string }> {
  const outcome = await ctx.store.transaction(async (tx) => {
    const inv = await tx.invitations.get(invitationId);
    if (!inv || inv.username !== user.username) throw noSuchInvitation();
    const client = await tx.getClient(inv.client_id);
    if (!client) throw noSuchInvitation();
    const done = { client_id: client.client_id, client_name: client.client_name };
    const now = seconds(ctx.clock);
    const object = clientObject(client.client_id);
    const changes = { username: user.username, invitation_id: inv.invitation_id };
    if (inv.status !== 'pending') {
      throw new InvitationError('conflict', `This invitation was already ${inv.status}.`);
    }
    if (Number(inv.expires_at) <= now) {
      // Recorded, then refused once the transaction has committed the record.
      await audit(
        { store: tx, clock: ctx.clock },
        actor,
        'client.invitation_expired_refused',
        object,
        changes,
      );
      return { expired: true as const, ...done };
    }
    await tx.invitations.lockClient(client.client_id);
    if (!(await tx.invitations.decide(inv.invitation_id, decision, now))) {
      throw new InvitationError('conflict', 'This invitation was already answered.');
    }
    if (decision === 'approved') await tx.invitations.addToAccessList(client.client_id, user.user_id, now);
    const action = decision === 'approved' ? 'client.invitation_approved' : 'client.invitation_declined';
    await audit({ store: tx, clock: ctx.clock }, actor, action, object, changes);
    return { expired: false as const, ...done };
  });
  if (outcome.expired) {
    throw new InvitationError(
      'expired',
      `This invitation from ${outcome.client_name} has expired: ask its developer for a new one.`,
    );
  }
  return { client_id: outcome.client_id, client_name: outcome.client_name };
}

export function approveInvitation(
  ctx: AuditContext,
  invitationId: string,
  user: InvitedUser,
  opts: { actor: Actor },
) {
  return answer(ctx, invitationId, user, 'approved', opts.actor);
}

export function declineInvitation(
  ctx: AuditContext,
  invitationId: string,
  user: InvitedUser,
  opts: { actor: Actor },
) {
  return answer(ctx, invitationId, user, 'declined', opts.actor);
}

/** The user leaves a client's access list; their sessions of that client end with it. */
export async function withdrawApproval(
  ctx: AuditContext,
  clientId: string,
  user: InvitedUser,
  opts: { actor: Actor },
): Promise<{ client_id: string; client_name: string; sessions_ended: number }> {
  return ctx.store.transaction(async (tx) => {
    const client = await tx.getClient(clientId);
    if (!client || !(await tx.disallowUser(clientId, user.user_id))) {
      throw new InvitationError('not_found', 'You are not on the access list of that app.');
    }
    const now = seconds(ctx.clock);
    await tx.invitations.markWithdrawn(clientId, user.username, now);
    const ended = await endSessionsAfterAccessWithdrawn(tx, user.user_id, clientId, now);
    await audit({ store: tx, clock: ctx.clock }, opts.actor, 'client.user_withdrew', clientObject(clientId), {
      username: user.username,
      sessions_ended: ended,
    });
    return { client_id: clientId, client_name: client.client_name, sessions_ended: ended };
  });
}
