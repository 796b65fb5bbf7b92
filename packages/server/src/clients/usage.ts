import type { AppContext } from '../context.ts';
import type { ClientRecord } from '../store/types.ts';

/** Inactivity is counted in days: recording a client's use once an hour is plenty. */
export const USE_RECORD_INTERVAL = 3600;

const inFlight = new WeakMap<object, Set<string>>();

/**
 * Records that a client obtained tokens, coalesced: the client record this request loaded says when its
 * use was last recorded, and while that is under an hour old nothing is written, so the token endpoint
 * writes it at most about once per client per hour. The write is conditional (a second process's write
 * in the same hour changes nothing) and is not awaited: a token response must not wait on, or fail
 * because of, bookkeeping counted in days. If it fails, the record stays stale and the next token
 * request writes it.
 */
export function noteClientUse(ctx: AppContext, client: ClientRecord, now: number): void {
  const staleBefore = now - USE_RECORD_INTERVAL;
  if (client.last_used_at !== null && client.last_used_at >= staleBefore) return;
  let pending = inFlight.get(ctx.store.db);
  if (!pending) {
    pending = new Set();
    inFlight.set(ctx.store.db, pending);
  }
  if (pending.has(client.client_id)) return;
  pending.add(client.client_id);
  ctx.store.lifecycle
    .recordUse(client.client_id, now, staleBefore)
    .catch(() => {})
    .finally(() => pending.delete(client.client_id));
}
