import type { Notice } from '../clients/inactivity.ts';
import type { Queryable } from './db.ts';
import { one } from './db.ts';

/** What the inactivity sweep reads of a client. */
export interface SweepClient {
  client_id: string;
  client_name: string;
  developer_email: string | null;
  owner_email: string | null;
  disabled_at: number | null;
  last_used_at: number | null;
  reactivated_at: number | null;
  created_at: number;
}

export interface NoticeRow {
  client_id: string;
  period_start: number;
  notice: Notice;
  created_at: number;
  claimed_at: number | null;
  attempts: number;
  recipient: string | null;
  last_error: string | null;
  sent_at: number | null;
}

export interface NoticeKey {
  client_id: string;
  period_start: number;
  notice: Notice;
}

const KEY = 'client_id = ? AND period_start = ? AND notice = ?';
const keyParams = (k: NoticeKey) => [k.client_id, k.period_start, k.notice];

/** The client lifecycle: use tracking, inactivity notices, reactivation and deletion. */
export class LifecycleStore {
  constructor(private readonly q: Queryable) {}

  /**
   * Records a use of the client unless one was recorded since `staleBefore`: across processes the
   * column changes at most once in that interval, and a repeated call changes nothing.
   */
  async recordUse(clientId: string, now: number, staleBefore: number): Promise<boolean> {
    return (
      (await this.q.run(
        'UPDATE clients SET last_used_at = ? WHERE client_id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
        [now, clientId, staleBefore],
      )) === 1
    );
  }

  async sweepClients(): Promise<SweepClient[]> {
    return this.q.all<SweepClient>(
      `SELECT client_id, client_name, developer_email, owner_email, disabled_at, last_used_at, reactivated_at,
        created_at FROM clients ORDER BY client_id`,
    );
  }

  async sweepClient(clientId: string): Promise<SweepClient | undefined> {
    return one<SweepClient>(
      this.q,
      `SELECT client_id, client_name, developer_email, owner_email, disabled_at, last_used_at, reactivated_at,
        created_at FROM clients WHERE client_id = ?`,
      [clientId],
    );
  }

  /** The notices claimed for one client in one inactivity period. */
  async notices(clientId: string, periodStart: number): Promise<NoticeRow[]> {
    return this.q.all<NoticeRow>('SELECT * FROM client_notices WHERE client_id = ? AND period_start = ?', [
      clientId,
      periodStart,
    ]);
  }

  async allNotices(): Promise<NoticeRow[]> {
    return this.q.all<NoticeRow>('SELECT * FROM client_notices ORDER BY client_id, period_start, created_at');
  }

  /** Claims a notice for sending; of several processes claiming the same one, exactly one gets true. */
  async claimNotice(k: NoticeKey, now: number): Promise<boolean> {
    return (
      (await this.q.run(
        `INSERT INTO client_notices (client_id, period_start, notice, created_at, claimed_at, attempts)
         VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (client_id, period_start, notice) DO NOTHING`,
        [...keyParams(k), now, now],
      )) === 1
    );
  }

  /**
   * Takes an undelivered notice for another attempt: one whose last attempt failed (released), or whose
   * claimer has held it since before `leaseExpired` (it died while sending). One process gets true.
   */
  async reclaimNotice(k: NoticeKey, now: number, leaseExpired: number): Promise<boolean> {
    return (
      (await this.q.run(
        `UPDATE client_notices SET claimed_at = ?, attempts = attempts + 1
         WHERE ${KEY} AND sent_at IS NULL AND (claimed_at IS NULL OR claimed_at < ?)`,
        [now, ...keyParams(k), leaseExpired],
      )) === 1
    );
  }

  async markNoticeSent(k: NoticeKey, recipient: string, now: number): Promise<void> {
    await this.q.run(
      `UPDATE client_notices SET sent_at = ?, recipient = ?, last_error = NULL WHERE ${KEY} AND sent_at IS NULL`,
      [now, recipient, ...keyParams(k)],
    );
  }

  /** Gives a notice back after a failed delivery, so the next sweep retries it at once. */
  async releaseNotice(k: NoticeKey, recipient: string | null, error: string): Promise<void> {
    await this.q.run(
      `UPDATE client_notices SET claimed_at = NULL, recipient = ?, last_error = ? WHERE ${KEY} AND sent_at IS NULL`,
      [recipient, error.slice(0, 500), ...keyParams(k)],
    );
  }

  /** Disables a client; false when it was already disabled or does not exist. */
  async disable(clientId: string, now: number): Promise<boolean> {
    return (
      (await this.q.run(
        'UPDATE clients SET disabled_at = ?, updated_at = ? WHERE client_id = ? AND disabled_at IS NULL',
        [now, now, clientId],
      )) === 1
    );
  }

  /**
   * Disables a client for inactivity, in one conditional statement: only if it is enabled and its
   * inactivity period still starts at `periodStart` (no use or reactivation since).
   */
  async disableUnusedSince(clientId: string, periodStart: number, now: number): Promise<boolean> {
    return (
      (await this.q.run(
        `UPDATE clients SET disabled_at = ?, updated_at = ?
         WHERE client_id = ? AND disabled_at IS NULL AND created_at <= ?
           AND COALESCE(last_used_at, 0) <= ? AND COALESCE(reactivated_at, 0) <= ?`,
        [now, now, clientId, periodStart, periodStart, periodStart],
      )) === 1
    );
  }

  /** Enables a client and starts a new inactivity period now; an operator's enable is also an approval. */
  async enable(clientId: string, now: number): Promise<boolean> {
    return (
      (await this.q.run(
        'UPDATE clients SET disabled_at = NULL, review_requested_at = NULL, reactivated_at = ?, updated_at = ? WHERE client_id = ?',
        [now, now, clientId],
      )) === 1
    );
  }

  /** How much a client deletion removes along with the client. */
  async dependents(clientId: string): Promise<{ sessions: number; consents: number; users: number }> {
    const count = async (table: string) =>
      Number(
        (
          await one<{ n: number }>(this.q, `SELECT COUNT(*) AS n FROM ${table} WHERE client_id = ?`, [
            clientId,
          ])
        )?.n ?? 0,
      );
    return {
      sessions: await count('sessions'),
      consents: await count('consents'),
      users: await count('client_users'),
    };
  }

  /**
   * Removes a client with everything that hangs on it. The foreign keys cascade too; deleting explicitly
   * does not depend on SQLite's foreign_keys pragma and keeps refresh tokens (no key to clients) from
   * outliving it.
   */
  async deleteClient(clientId: string): Promise<boolean> {
    for (const table of [
      'refresh_tokens',
      'authorization_codes',
      'authorization_requests',
      'sessions',
      'consents',
      'client_users',
      'client_invitations',
      'client_notices',
    ]) {
      await this.q.run(`DELETE FROM ${table} WHERE client_id = ?`, [clientId]);
    }
    return (await this.q.run('DELETE FROM clients WHERE client_id = ?', [clientId])) === 1;
  }
}
