// The developer portal's rows (clients/self-service.ts has the rules): which users may register clients,
// which user owns a client registered in the portal, and a client waiting for the operator's approval.
import type { Queryable } from './db.ts';

export class DeveloperStore {
  constructor(private readonly q: Queryable) {}

  /** Makes a user a developer (keeping the first date) or not; false when there is no such user. */
  async setDeveloper(userId: string, on: boolean, now: number): Promise<boolean> {
    const sql = on
      ? 'UPDATE users SET developer_since = COALESCE(developer_since, ?), updated_at = ? WHERE user_id = ?'
      : 'UPDATE users SET developer_since = NULL, updated_at = ? WHERE user_id = ?';
    return (await this.q.run(sql, on ? [now, now, userId] : [now, userId])) === 1;
  }

  /** Records who registered a client in the portal, and whether it waits for review. */
  async claim(clientId: string, userId: string, reviewRequestedAt: number | null): Promise<void> {
    await this.q.run('UPDATE clients SET owner_user_id = ?, review_requested_at = ? WHERE client_id = ?', [
      userId,
      reviewRequestedAt,
      clientId,
    ]);
  }

  /** The ids of the clients a developer owns, in id order. */
  async ownedClientIds(userId: string): Promise<string[]> {
    const rows = await this.q.all<{ client_id: string }>(
      'SELECT client_id FROM clients WHERE owner_user_id = ? ORDER BY client_id',
      [userId],
    );
    return rows.map((r) => r.client_id);
  }

  /**
   * Approves a client waiting for review: enabled, its inactivity period starting now. One conditional
   * statement, so two approvals cannot both succeed (and mail twice).
   */
  async approve(clientId: string, now: number): Promise<boolean> {
    return (
      (await this.q.run(
        `UPDATE clients SET review_requested_at = NULL, disabled_at = NULL, reactivated_at = ?, updated_at = ?
         WHERE client_id = ? AND review_requested_at IS NOT NULL`,
        [now, now, clientId],
      )) === 1
    );
  }
}
