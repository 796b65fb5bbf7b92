import type { Command } from 'commander';
import { disableTwoFactor } from '../accounts/two-factor.ts';
import { createUser, hashUserPassword } from '../accounts/users.ts';
import { RegistryError } from '../clients/registry.ts';
import { setDeveloper } from '../clients/self-service.ts';
import { systemClock } from '../clock.ts';
import { cliActor } from '../jobs/audit.ts';
import { normalizeId } from '../oauth/masking.ts';
import { endSessionsAfterPasswordChange, endSessionsAfterSubscriptionLapsed } from '../sessions/end.ts';
import type { Store } from '../store/store.ts';
import type { UserRecord } from '../store/types.ts';
import {
  auditCli,
  now,
  parseGroups,
  parseIntArg,
  passwordFrom,
  passwordOptions,
  userObject,
  withCommon,
  withStore,
} from './common.ts';
import { CliError, print, userView } from './output.ts';

interface UserFlags {
  name?: string;
  custId?: number;
  groups?: number[];
  env?: string;
  inactiveSubscription?: boolean;
  password?: string;
  passwordStdin?: boolean;
  dataDir?: string;
  json?: boolean;
  keepSessions?: boolean;
}

async function mustGetUser(store: Store, username: string): Promise<UserRecord> {
  const user = await store.users.byUsername(normalizeId(username));
  if (!user) throw new CliError(`no user ${username}`);
  return user;
}

export function usersCommand(program: Command): void {
  const users = program.command('users').description('manage users');

  passwordOptions(
    withCommon(
      users
        .command('add <username>')
        .description('add a user (the username is the email address or issued identifier)')
        .requiredOption('--name <name>', 'display name (iracing_name)')
        .option('--cust-id <n>', 'numeric customer id (iracing_cust_id)', parseIntArg('--cust-id'))
        .option('--groups <ids>', 'comma-separated group ids (iracing_group_ids)', parseGroups)
        .option('--env <env>', 'environment (iracing_env)', 'members')
        .option('--inactive-subscription', 'the user has no active subscription'),
    ),
  ).action(async (username: string, o: UserFlags) => {
    const password = await passwordFrom(o);
    await withStore(o, async (store) => {
      const user = await createUser(
        store,
        {
          username,
          display_name: o.name!,
          password,
          cust_id: o.custId ?? null,
          group_ids: o.groups ?? [],
          env: o.env ?? 'members',
          subscription_active: !o.inactiveSubscription,
        },
        now(),
      ).catch((err) => {
        if (err instanceof RegistryError) throw new CliError(err.message);
        throw err;
      });
      await auditCli(store, 'user.created', userObject(user), userView(user));
      print(userView(user), !!o.json);
    });
  });

  withCommon(
    users
      .command('set-developer <username> <on|off>')
      .description('let a user register clients in the developer portal (on), or no longer (off)'),
  ).action((username: string, value: string, o: UserFlags) =>
    withStore(o, async (store) => {
      if (value !== 'on' && value !== 'off') throw new CliError(`expected on or off, got "${value}"`);
      const user = await mustGetUser(store, username);
      await setDeveloper({ store, clock: systemClock }, user, value === 'on', cliActor());
      print(userView((await store.users.byId(user.user_id))!), !!o.json);
    }),
  );

  withCommon(users.command('list').description('list users')).action((o: UserFlags) =>
    withStore(o, async (store) => print((await store.users.list()).map(userView), !!o.json)),
  );

  withCommon(users.command('show <username>').description('show one user')).action(
    (username: string, o: UserFlags) =>
      withStore(o, async (store) => print(userView(await mustGetUser(store, username)), !!o.json)),
  );

  passwordOptions(
    withCommon(
      users
        .command('set-password <username>')
        .description("change a user's password, signing the user out of every browser and client")
        .option('--keep-sessions', "keep the user's browser and client sessions"),
    ),
  ).action(async (username: string, o: UserFlags) => {
    const password = await passwordFrom(o);
    if (password.length === 0) throw new CliError('the password must not be empty');
    await withStore(o, async (store) => {
      const user = await mustGetUser(store, username);
      const hash = await hashUserPassword(user.username, password);
      await store.transaction(async (tx) => {
        const t = now();
        await tx.users.setPasswordHash(user.user_id, hash, t);
        if (!o.keepSessions) await endSessionsAfterPasswordChange(tx, user.user_id, t);
      });
      await auditCli(store, 'user.password_set', userObject(user));
      print(userView(user), !!o.json);
    });
  });

  withCommon(
    users
      .command('set-subscription <username> <state>')
      .description(
        'mark the subscription active or inactive (state: active | inactive); inactive signs the user out of every browser',
      )
      .option('--keep-sessions', "with inactive: keep the user's browser sessions"),
  ).action((username: string, state: string, o: UserFlags) =>
    withStore(o, async (store) => {
      if (state !== 'active' && state !== 'inactive')
        throw new CliError('state must be "active" or "inactive"');
      const user = await mustGetUser(store, username);
      await store.transaction(async (tx) => {
        const t = now();
        await tx.users.setSubscription(user.user_id, state === 'active', t);
        if (state === 'inactive' && !o.keepSessions)
          await endSessionsAfterSubscriptionLapsed(tx, user.user_id, t);
      });
      await auditCli(store, 'user.subscription_changed', userObject(user), { subscription: state });
      print(userView((await store.users.byId(user.user_id))!), !!o.json);
    }),
  );

  withCommon(
    users
      .command('2fa <username> <action>')
      .description(
        "a user's two-factor sign-in (action: status | disable); disable also forgets their remembered browsers",
      ),
  ).action((username: string, action: string, o: UserFlags) =>
    withStore(o, async (store) => {
      if (action !== 'status' && action !== 'disable')
        throw new CliError('action must be "status" or "disable"');
      const user = await mustGetUser(store, username);
      const t = now();
      if (action === 'disable') {
        const had = await disableTwoFactor(store, user.user_id, t);
        if (!had) throw new CliError(`${user.username} has no two-factor sign-in`);
        await auditCli(store, 'user.two_factor_disabled', userObject(user));
      }
      const totp = await store.twoFactor.getTotp(user.user_id);
      const enabled = totp?.enabled_at != null;
      print(
        {
          username: user.username,
          two_factor: enabled ? 'enabled' : 'disabled',
          enabled_at: enabled ? new Date(totp!.enabled_at! * 1000).toISOString() : null,
          recovery_codes_left: enabled ? await store.twoFactor.recoveryCodesLeft(user.user_id) : 0,
          remembered_browsers: (await store.twoFactor.listRememberedBrowsers(user.user_id, t)).length,
        },
        !!o.json,
      );
    }),
  );
}
