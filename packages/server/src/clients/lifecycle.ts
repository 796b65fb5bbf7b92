// What an operator does to a client's life: disable it, enable it again (which restarts its inactivity
// clock), delete it with everything that hangs on it. Each act and its audit entry commit together.

import { seconds } from '../clock.ts';
import { type Actor, type AuditContext, audit } from '../jobs/audit.ts';

export class LifecycleError extends Error {
  override name = 'LifecycleError';
}

const object = (id: string) => ({ type: 'client', id });

/** Disables a client: it gets no code and no token, and its sessions stop refreshing. */
export async function disableClient(ctx: AuditContext, clientId: string, actor: Actor): Promise<void> {
  const now = seconds(ctx.clock);
  await ctx.store.transaction(async (tx) => {
    if (!(await tx.getClient(clientId))) throw new LifecycleError(`no client ${clientId}`);
    if (await tx.lifecycle.disable(clientId, now)) {
      await audit({ store: tx, clock: ctx.clock }, actor, 'client.disabled', object(clientId), {
        disabled: true,
      });
    }
  });
}

/** Enables a client and starts a new inactivity period: the notices count again from now. */
export async function enableClient(ctx: AuditContext, clientId: string, actor: Actor): Promise<void> {
  const now = seconds(ctx.clock);
  await ctx.store.transaction(async (tx) => {
    if (!(await tx.lifecycle.enable(clientId, now))) throw new LifecycleError(`no client ${clientId}`);
    await audit({ store: tx, clock: ctx.clock }, actor, 'client.enabled', object(clientId), {
      disabled: false,
      reactivated_at: new Date(now * 1000).toISOString(),
    });
  });
}

/** Deletes a client with its sessions, refresh tokens, codes, consents, pending requests and notices. */
export async function deleteClient(ctx: AuditContext, clientId: string, actor: Actor): Promise<void> {
  await ctx.store.transaction(async (tx) => {
    const client = await tx.getClient(clientId);
    if (!client) throw new LifecycleError(`no client ${clientId}`);
    const removed = await tx.lifecycle.dependents(clientId);
    await tx.lifecycle.deleteClient(clientId);
    await audit({ store: tx, clock: ctx.clock }, actor, 'client.deleted', object(clientId), {
      client_name: client.client_name,
      sessions_removed: removed.sessions,
      consents_removed: removed.consents,
      access_list_removed: removed.users,
    });
  });
}
