// Invitations to a password_limited access list (clients/invitations.ts has the rules). An invitation is
// addressed to a username (an email address), pending until the user approves or declines it; a pending
// one past expires_at is expired. Approving puts the user on client_users, the access list itself.
import { one, type Queryable } from './db.ts';

export type InvitationStatus = 'pending' | 'approved' | 'declined' | 'withdrawn';

export interface InvitationRow {
  invitation_id: string;
  client_id: string;
  username: string;
  status: InvitationStatus;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
}

/** A pending invitation with the client it is for, as the invited user's account page lists it. */
export interface PendingInvitationRow extends InvitationRow {
  client_name: string;
  owner_email: string | null;
  developer_email: string | null;
  developer_name: string | null;
}

/** A client whose access list the user is on. */
export interface AllowedClientRow {
  client_id: string;
  client_name: string;
  owner_email: string | null;
  developer_email: string | null;
  created_at: number;
}

export class InvitationStore {
  constructor(
    private readonly q: Queryable,
    private readonly dialect: 'sqlite' | 'postgres',
  ) {}

  /**
   * Locks the client's row until the transaction ends, so two invitations (or an invitation and an
   * allow-user) cannot both see room for one more. SQLite's transactions already hold the write lock.
   */
  async lockClient(clientId: string): Promise<void> {
    if (this.dialect === 'postgres') {
      await this.q.all('SELECT client_id FROM clients WHERE client_id = ? FOR UPDATE', [clientId]);
    }
  }

  /** Places taken on the access list: users on it plus invitations still pending at `now`. */
  async placesTaken(clientId: string, now: number): Promise<number> {
    const r = await one<{ n: number }>(
      this.q,
      `SELECT (SELECT COUNT(*) FROM client_users WHERE client_id = ?)
            + (SELECT COUNT(*) FROM client_invitations WHERE client_id = ? AND status = 'pending' AND expires_at > ?)
         AS n`,
      [clientId, clientId, now],
    );
    return Number(r?.n ?? 0);
  }

  /** The pending, unexpired invitation of this client for this username, if any. */
  pendingFor(clientId: string, username: string, now: number): Promise<InvitationRow | undefined> {
    return one<InvitationRow>(
      this.q,
      `SELECT * FROM client_invitations
       WHERE client_id = ? AND username = ? AND status = 'pending' AND expires_at > ?`,
      [clientId, username, now],
    );
  }

  async insert(i: InvitationRow): Promise<void> {
    await this.q.run(
      `INSERT INTO client_invitations (invitation_id, client_id, username, status, created_at, expires_at, decided_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [i.invitation_id, i.client_id, i.username, i.status, i.created_at, i.expires_at, i.decided_at],
    );
  }

  get(invitationId: string): Promise<InvitationRow | undefined> {
    return one<InvitationRow>(this.q, 'SELECT * FROM client_invitations WHERE invitation_id = ?', [
      invitationId,
    ]);
  }

  /** Every invitation of a client, newest first. */
  listForClient(clientId: string): Promise<InvitationRow[]> {
    return this.q.all<InvitationRow>(
      'SELECT * FROM client_invitations WHERE client_id = ? ORDER BY created_at DESC, invitation_id',
      [clientId],
    );
  }

  /** The invitations a user can still answer, oldest first, with their clients. */
  pendingForUser(username: string, now: number): Promise<PendingInvitationRow[]> {
    return this.q.all<PendingInvitationRow>(
      `SELECT i.*, c.client_name, c.owner_email, c.developer_email, c.developer_name
       FROM client_invitations i JOIN clients c ON c.client_id = i.client_id
       WHERE i.username = ? AND i.status = 'pending' AND i.expires_at > ?
       ORDER BY i.created_at, i.invitation_id`,
      [username, now],
    );
  }

  /**
   * Answers a pending, unexpired invitation; the condition is the atomic part, so one invitation is
   * answered once. Returns false when it was not pending any more (or had expired).
   */
  async decide(invitationId: string, status: 'approved' | 'declined', now: number): Promise<boolean> {
    return (
      (await this.q.run(
        `UPDATE client_invitations SET status = ?, decided_at = ?
         WHERE invitation_id = ? AND status = 'pending' AND expires_at > ?`,
        [status, now, invitationId, now],
      )) === 1
    );
  }

  /** Marks the user's approved invitations of a client withdrawn. */
  async markWithdrawn(clientId: string, username: string, now: number): Promise<void> {
    await this.q.run(
      `UPDATE client_invitations SET status = 'withdrawn', decided_at = ?
       WHERE client_id = ? AND username = ? AND status = 'approved'`,
      [now, clientId, username],
    );
  }

  /** Puts a user on the access list; nothing when they are on it already. */
  async addToAccessList(clientId: string, userId: string, now: number): Promise<void> {
    await this.q.run(
      `INSERT INTO client_users (client_id, user_id, created_at) VALUES (?, ?, ?)
       ON CONFLICT (client_id, user_id) DO NOTHING`,
      [clientId, userId, now],
    );
  }

  /** The clients whose access list the user is on, by name. */
  allowedClients(userId: string): Promise<AllowedClientRow[]> {
    return this.q.all<AllowedClientRow>(
      `SELECT c.client_id, c.client_name, c.owner_email, c.developer_email, cu.created_at
       FROM client_users cu JOIN clients c ON c.client_id = cu.client_id
       WHERE cu.user_id = ? ORDER BY c.client_name, c.client_id`,
      [userId],
    );
  }
}
