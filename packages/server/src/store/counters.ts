import { one, type Queryable } from './db.ts';

/** Fixed-window counters of the rate limits and lockouts, each change one atomic statement. */
export class CounterStore {
  constructor(private readonly q: Queryable) {}

  /**
   * Counts one hit in a fixed window, atomically (one upsert): a window older than `window` seconds
   * starts again at 1. Returns the hits in the current window and when it started.
   */
  async hit(key: string, window: number, now: number): Promise<{ hits: number; window_start: number }> {
    const r = await one<{ hits: number; window_start: number }>(
      this.q,
      `INSERT INTO rate_counters (counter_key, window_start, hits) VALUES (?, ?, 1)
       ON CONFLICT (counter_key) DO UPDATE SET
         hits = CASE WHEN rate_counters.window_start <= ? THEN 1 ELSE rate_counters.hits + 1 END,
         window_start = CASE WHEN rate_counters.window_start <= ? THEN excluded.window_start
                        ELSE rate_counters.window_start END
       RETURNING hits, window_start`,
      [key, now, now - window, now - window],
    );
    return { hits: Number(r!.hits), window_start: Number(r!.window_start) };
  }

  async reset(key: string): Promise<void> {
    await this.q.run('DELETE FROM rate_counters WHERE counter_key = ?', [key]);
  }

  async deleteExpired(before: number): Promise<number> {
    return this.q.run('DELETE FROM rate_counters WHERE window_start < ?', [before]);
  }
}
