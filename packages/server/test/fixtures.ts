import { createUser } from '../src/accounts/users.ts';
import { type ClientInput, createClient } from '../src/clients/registry.ts';
import { mask } from '../src/oauth/masking.ts';
import type { Store } from '../src/store/store.ts';
import type { TestUser } from './flow.ts';
import { type HttpResult, noteSecret, post, type TestServer } from './helpers.ts';

let n = 0;
const unique = (p: string) => `${p}-${process.pid}-${++n}`;

export interface Headless {
  clientId: string;
  secret: string;
  maskedSecret: string;
  username: string;
  password: string;
  maskedPassword: string;
  userId: string;
}

/** A confidential password_limited client with one allowed user, created through the registry. */
export async function headless(
  store: Store,
  opts: { client?: Partial<ClientInput>; custId?: number; subscription?: boolean } = {},
): Promise<Headless> {
  const now = Math.floor(Date.now() / 1000);
  const username = `${unique('user')}@example.com`;
  const password = `pw-${unique('secret')}-Correct-Horse`;
  const user = await createUser(
    store,
    {
      username,
      display_name: 'John West',
      password,
      cust_id: opts.custId ?? 15535 + n * 7,
      group_ids: [1, 2, 3, 5, 8, 10],
      env: 'members',
      subscription_active: opts.subscription ?? true,
    },
    now,
  );
  const clientId = unique('client');
  const { client_secret } = await createClient(
    store,
    {
      client_id: clientId,
      client_name: 'Test client',
      grant_types: ['password_limited', 'refresh_token'],
      audiences: ['data-server'],
      ...opts.client,
    },
    now,
  );
  await store.allowUser(clientId, user.user_id, now);
  const h = {
    clientId,
    secret: client_secret!,
    maskedSecret: mask(client_secret!, clientId),
    username,
    password,
    maskedPassword: mask(password, username),
    userId: user.user_id,
  };
  noteSecret(h.secret, h.maskedSecret, h.password, h.maskedPassword);
  return h;
}

export function passwordForm(h: Headless, extra: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: 'password_limited',
    client_id: h.clientId,
    client_secret: h.maskedSecret,
    username: h.username,
    password: h.maskedPassword,
    ...extra,
  };
}

export async function login(
  server: TestServer,
  h: Headless,
  extra: Record<string, string> = {},
): Promise<HttpResult> {
  const r = await post(`${server.url}/oauth2/token`, passwordForm(h, extra));
  if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
  return r;
}

export async function refresh(server: TestServer, h: Headless, refreshToken: string): Promise<HttpResult> {
  const r = await post(`${server.url}/oauth2/token`, {
    grant_type: 'refresh_token',
    client_id: h.clientId,
    client_secret: h.maskedSecret,
    refresh_token: refreshToken,
  });
  if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
  return r;
}

/** What login needs to run the password_limited grant for this user through this client. */
export function headlessOf(client: { clientId: string; secret: string }, user: TestUser): Headless {
  return {
    clientId: client.clientId,
    secret: client.secret,
    maskedSecret: mask(client.secret, client.clientId),
    username: user.username,
    password: user.password,
    maskedPassword: mask(user.password, user.username),
    userId: user.userId,
  };
}
