import { assignments, one, type Queryable, type Row } from './db.ts';
import type { UserRecord } from './types.ts';

export type UserPatch = Partial<Pick<UserRecord, 'display_name' | 'cust_id' | 'group_ids' | 'env'>>;

export function toUser(r: Row): UserRecord {
  return {
    ...(r as unknown as UserRecord),
    group_ids: JSON.parse(String(r.group_ids)),
    subscription_active: Number(r.subscription_active) === 1,
  };
}

/** Users: the accounts that sign in (username is the email address). */
export class UserStore {
  constructor(private readonly q: Queryable) {}

  async insert(u: UserRecord): Promise<void> {
    await this.q.run(
      `INSERT INTO users (user_id, username, display_name, cust_id, group_ids, env, subscription_active,
        password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        u.user_id,
        u.username,
        u.display_name,
        u.cust_id,
        JSON.stringify(u.group_ids),
        u.env,
        u.subscription_active ? 1 : 0,
        u.password_hash,
        u.created_at,
        u.updated_at,
      ],
    );
  }

  async byUsername(username: string): Promise<UserRecord | undefined> {
    const r = await one(this.q, 'SELECT * FROM users WHERE username = ?', [username]);
    return r && toUser(r);
  }

  async byId(userId: string): Promise<UserRecord | undefined> {
    const r = await one(this.q, 'SELECT * FROM users WHERE user_id = ?', [userId]);
    return r && toUser(r);
  }

  async list(): Promise<UserRecord[]> {
    return (await this.q.all('SELECT * FROM users ORDER BY username')).map(toUser);
  }

  async update(userId: string, patch: UserPatch, now: number): Promise<boolean> {
    const { sets, params } = assignments(patch, ['group_ids'], now);
    return (await this.q.run(`UPDATE users SET ${sets} WHERE user_id = ?`, [...params, userId])) === 1;
  }

  async setPasswordHash(userId: string, hash: string, now: number): Promise<boolean> {
    return (
      (await this.q.run('UPDATE users SET password_hash = ?, updated_at = ? WHERE user_id = ?', [
        hash,
        now,
        userId,
      ])) === 1
    );
  }

  async setSubscription(userId: string, active: boolean, now: number): Promise<boolean> {
    return (
      (await this.q.run('UPDATE users SET subscription_active = ?, updated_at = ? WHERE user_id = ?', [
        active ? 1 : 0,
        now,
        userId,
      ])) === 1
    );
  }
}
