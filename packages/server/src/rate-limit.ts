import type { Store } from './store/store.ts';

/**
 * Counts one hit on a fixed-window counter (store.hit: one atomic upsert, shared by every process).
 * Returns 0 while the hits are within the limit, else the seconds until the window ends.
 */
export async function overLimit(
  store: Store,
  key: string,
  limit: number,
  window: number,
  now: number,
): Promise<number> {
  const hit = await store.counters.hit(key, window, now);
  return hit.hits > limit ? Math.max(1, hit.window_start + window - now) : 0;
}
