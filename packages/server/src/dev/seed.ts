import { createUser, hashUserPassword } from '../accounts/users.ts';
import { createClient, secretHash, secretTwiceHash } from '../clients/registry.ts';
import type { Store } from '../store/store.ts';

/** Demo data for `paddock dev`. The credentials are public by design: never use them outside a laptop. */
export const DEMO = {
  username: 'john.west@iracing.com',
  password: 'Anagram-tactics-FOOTING-OPACITY-SHONE-keenly',
  name: 'John West',
  custId: 15535,
  groups: [1, 2, 3, 5, 8, 10],
  env: 'members',
  headlessClient: 'demo-headless',
  headlessSecret: 'paddock-demo-secret-not-for-production',
  publicClient: 'demo-spa',
  publicRedirectUri: 'http://127.0.0.1:0/callback',
} as const;

/** Creates (or puts back) the demo user and clients; safe to run on every start. */
export async function seedDemo(store: Store, now: number): Promise<void> {
  let user = await store.users.byUsername(DEMO.username);
  if (!user) {
    user = await createUser(
      store,
      {
        username: DEMO.username,
        display_name: DEMO.name,
        password: DEMO.password,
        cust_id: DEMO.custId,
        group_ids: [...DEMO.groups],
        env: DEMO.env,
      },
      now,
    );
  } else {
    await store.users.setPasswordHash(
      user.user_id,
      await hashUserPassword(DEMO.username, DEMO.password),
      now,
    );
    await store.users.setSubscription(user.user_id, true, now);
  }

  if (!(await store.getClient(DEMO.headlessClient))) {
    await createClient(
      store,
      {
        client_id: DEMO.headlessClient,
        client_name: 'Demo headless client',
        client_type: 'confidential',
        grant_types: ['password_limited', 'refresh_token'],
        audiences: ['data-server'],
        developer_name: 'Paddock demo',
        developer_email: 'dev@localhost',
        developer_url: 'http://127.0.0.1/',
      },
      now,
    );
  }
  await store.updateClient(
    DEMO.headlessClient,
    {
      secret_hash: secretHash(DEMO.headlessSecret, DEMO.headlessClient),
      secret_twice_hash: secretTwiceHash(DEMO.headlessSecret, DEMO.headlessClient),
      disabled_at: null,
    },
    now,
  );
  await store.allowUser(DEMO.headlessClient, user.user_id, now);
  // The demo user may register clients in the developer portal, which `paddock dev` opens.
  await store.developer.setDeveloper(user.user_id, true, now);

  if (!(await store.getClient(DEMO.publicClient))) {
    await createClient(
      store,
      {
        client_id: DEMO.publicClient,
        client_name: 'Demo single-page app',
        client_type: 'public',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [DEMO.publicRedirectUri],
        audiences: ['data-server'],
        developer_name: 'Paddock demo',
        developer_email: 'dev@localhost',
        developer_url: 'http://127.0.0.1/',
      },
      now,
    );
  }
}
