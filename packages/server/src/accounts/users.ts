import { randomUUID } from 'node:crypto';
import { RegistryError } from '../clients/registry.ts';
import { mask, normalizeId } from '../oauth/masking.ts';
import type { Store } from '../store/store.ts';
import type { UserRecord } from '../store/types.ts';
import { hashPassword } from './passwords.ts';

export interface UserInput {
  username: string;
  display_name: string;
  password: string;
  cust_id?: number | null;
  group_ids?: number[];
  env?: string | null;
  subscription_active?: boolean;
}

/** Stores the argon2id hash of the password masked with the username, as clients will send it. */
export function hashUserPassword(username: string, password: string): Promise<string> {
  return hashPassword(mask(password, username));
}

export async function createUser(store: Store, input: UserInput, now: number): Promise<UserRecord> {
  const username = normalizeId(input.username);
  if (!username || /\s/.test(username))
    throw new RegistryError('username must be non-empty and without spaces');
  if (!input.display_name.trim()) throw new RegistryError('--name must not be empty');
  if (input.password.length === 0) throw new RegistryError('the password must not be empty');
  if (await store.users.byUsername(username)) throw new RegistryError(`user ${username} already exists`);
  const user: UserRecord = {
    user_id: randomUUID(),
    username,
    display_name: input.display_name,
    cust_id: input.cust_id ?? null,
    group_ids: input.group_ids ?? [],
    env: input.env === undefined ? 'members' : input.env,
    subscription_active: input.subscription_active ?? true,
    password_hash: await hashUserPassword(username, input.password),
    created_at: now,
    updated_at: now,
  };
  try {
    await store.users.insert(user);
  } catch (err) {
    if (
      (err as { code?: string }).code?.includes('CONSTRAINT') ||
      (err as { code?: string }).code === '23505'
    ) {
      throw new RegistryError(`a user with cust id ${user.cust_id} or username ${username} already exists`);
    }
    throw err;
  }
  return user;
}
