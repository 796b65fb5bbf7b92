import readline from 'node:readline/promises';
import { type Command, Option } from 'commander';
import { approvalMail } from '../clients/approval-mail.ts';
import { deleteClient, disableClient, enableClient, LifecycleError } from '../clients/lifecycle.ts';
import {
  clientPatch,
  createClient,
  DEFAULT_REFRESH_TOKEN_TTL,
  RegistryError,
  registeredFields,
} from '../clients/registry.ts';
import { approveClient } from '../clients/self-service.ts';
import { systemClock } from '../clock.ts';
import { cliActor } from '../jobs/audit.ts';
import { normalizeId } from '../oauth/masking.ts';
import { redirectUriWarning } from '../oauth/redirect-uri.ts';
import { MAX_PASSWORD_LIMITED_USERS } from '../store/store.ts';
import { CLIENT_ROLES, type ClientRole, type ClientType, type GrantType } from '../store/types.ts';
import { DEFAULT_ACCESS_TOKEN_TTL } from '../tokens/keys.ts';
import { clientAccessCommands } from './client-access.ts';
import {
  auditCli,
  clientObject,
  collect,
  mustGetClient,
  now,
  parseSeconds,
  showClient as show,
  withCommon,
  withStore,
} from './common.ts';
import { CliError, clientView, print, printSweep } from './output.ts';

interface ClientFlags {
  name?: string;
  type?: ClientType;
  role?: ClientRole;
  redirectUri?: string[];
  audience?: string[];
  grant?: string[];
  accessTokenTtl?: number;
  refreshTokenTtl?: number;
  developerName?: string;
  developerEmail?: string;
  developerUrl?: string;
  ownerEmail?: string;
  allowHttp?: boolean;
  dataDir?: string;
  json?: boolean;
}

/** The settings flags `clients add` and `clients update` share, as the registry names them. */
function settingsOf(o: ClientFlags) {
  return {
    redirect_uris: o.redirectUri,
    audiences: o.audience,
    grant_types: o.grant as GrantType[] | undefined,
    access_token_ttl: o.accessTokenTtl,
    refresh_token_ttl: o.refreshTokenTtl,
    developer_name: o.developerName,
    developer_email: o.developerEmail,
    developer_url: o.developerUrl,
    owner_email: o.ownerEmail,
    allow_http: o.allowHttp,
  };
}

function clientFlags(cmd: Command, forUpdate: boolean): Command {
  if (forUpdate) cmd.option('--name <name>', 'the name users see');
  else cmd.requiredOption('--name <name>', 'the name users see');
  if (!forUpdate) {
    cmd.addOption(
      new Option('--type <type>', 'client type').choices(['confidential', 'public']).default('confidential'),
    );
    cmd.addOption(
      new Option(
        '--role <role>',
        'client, or resource-server: an API that only introspects tokens (confidential, no grants)',
      )
        .choices(CLIENT_ROLES)
        .default('client'),
    );
  }
  return cmd
    .option(
      '--redirect-uri <uri>',
      'a redirect URI (repeat for several; on update, replaces the list)',
      collect,
    )
    .option(
      '--allow-http',
      'accept http:// redirect URIs other than the native loopback form (http://127.0.0.1:0/path needs no flag)',
    )
    .option('--audience <aud>', 'an extra access-token audience, e.g. data-server (repeatable)', collect)
    .option(
      '--grant <grant>',
      forUpdate
        ? 'authorization_code, refresh_token, password_limited or urn:ietf:params:oauth:grant-type:device_code (repeatable; replaces the list)'
        : 'authorization_code, refresh_token, password_limited or urn:ietf:params:oauth:grant-type:device_code (repeatable; default authorization_code and refresh_token)',
      collect,
    )
    .option(
      '--access-token-ttl <s>',
      `access-token lifetime in seconds (default ${DEFAULT_ACCESS_TOKEN_TTL})`,
      parseSeconds('--access-token-ttl'),
    )
    .option(
      '--refresh-token-ttl <s>',
      `refresh-token lifetime in seconds (default ${DEFAULT_REFRESH_TOKEN_TTL})`,
      parseSeconds('--refresh-token-ttl'),
    )
    .option('--developer-name <name>', "the developer's name")
    .option('--developer-email <email>', "the developer's email address")
    .option('--developer-url <url>', "the developer's web site")
    .option('--owner-email <email>', 'where inactivity notices go (else the developer email)');
}

function registryErrors<T>(p: Promise<T>): Promise<T> {
  return p.catch((err) => {
    if (err instanceof RegistryError || err instanceof LifecycleError) throw new CliError(err.message);
    throw err;
  });
}

/** --as-of YYYY-MM-DD: the end of that day (UTC), so everything due on that date is due. */
function parseAsOf(value: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)$/.exec(value);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== value) {
    throw new CliError(`--as-of must be a date as YYYY-MM-DD, got "${value}"`);
  }
  return t / 1000 + 86399;
}

/** Asks on the terminal; anything but y or yes is no. */
async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Registers what is valid, but says so on stderr when a redirect URI will trip its developer up. */
function warnAboutRedirectUris(uris: readonly string[] | undefined): void {
  for (const uri of uris ?? []) {
    const warning = redirectUriWarning(uri);
    if (warning) process.stderr.write(`paddock: warning: ${warning}\n`);
  }
}

export function clientsCommand(program: Command): void {
  const clients = program.command('clients').description('register and manage OAuth clients');

  const addHelp =
    'register a client. Defaults: --type confidential (a secret is generated and shown once), ' +
    '--grant authorization_code and refresh_token, ' +
    `access tokens for ${DEFAULT_ACCESS_TOKEN_TTL} s, refresh tokens for ${DEFAULT_REFRESH_TOKEN_TTL} s, ` +
    'no redirect URI; http:// redirect URIs need --allow-http except the loopback form http://127.0.0.1:0/path';
  withCommon(clientFlags(clients.command('add <client_id>').description(addHelp), false)).action(
    (clientId: string, o: ClientFlags) =>
      withStore(o, async (store) => {
        const { client, client_secret } = await registryErrors(
          store.transaction(async (tx) => {
            const created = await createClient(
              tx,
              {
                client_id: clientId,
                client_name: o.name!,
                client_type: o.type,
                role: o.role,
                ...settingsOf(o),
              },
              now(),
            );
            await auditCli(tx, 'client.created', clientObject(clientId), registeredFields(created.client));
            return created;
          }),
        );
        warnAboutRedirectUris(o.redirectUri);
        await show(store, client, !!o.json, client_secret);
        if (client_secret && !o.json) {
          process.stderr.write('The client secret is shown once: store it now. Clients send it masked.\n');
        }
      }),
  );

  withCommon(clients.command('list').description('list clients')).action((o: ClientFlags) =>
    withStore(o, async (store) => {
      const list = await store.listClients();
      const views = await Promise.all(
        list.map(async (c) => clientView(c, await store.allowedUsernames(c.client_id))),
      );
      print(views, !!o.json);
    }),
  );

  withCommon(clients.command('show <client_id>').description('show one client')).action(
    (id: string, o: ClientFlags) =>
      withStore(o, async (store) => show(store, await mustGetClient(store, id), !!o.json)),
  );

  withCommon(clientFlags(clients.command('update <client_id>').description('change a client'), true)).action(
    (id: string, o: ClientFlags) =>
      withStore(o, async (store) => {
        const client = await mustGetClient(store, id);
        const patch = await registryErrors(
          Promise.resolve().then(() =>
            clientPatch(client, {
              client_name: o.name,
              ...settingsOf(o),
            }),
          ),
        );
        warnAboutRedirectUris(o.redirectUri);
        await store.transaction(async (tx) => {
          await tx.updateClient(id, patch, now());
          if (Object.keys(patch).length) await auditCli(tx, 'client.updated', clientObject(id), patch);
        });
        await show(store, await mustGetClient(store, id), !!o.json);
      }),
  );

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    withCommon(
      clients
        .command(`${name} <client_id>`)
        .description(
          disabled
            ? 'disable a client: it gets no new tokens'
            : 'enable a disabled client; its inactivity clock starts again',
        ),
    ).action((id: string, o: ClientFlags) =>
      withStore(o, async (store) => {
        const ctx = { store, clock: systemClock };
        await registryErrors((disabled ? disableClient : enableClient)(ctx, id, cliActor()));
        await show(store, await mustGetClient(store, id), !!o.json);
      }),
    );
  }

  clientAccessCommands(clients);

  withCommon(
    clients
      .command('approve <client_id>')
      .description(
        'approve a client registered in the developer portal (PADDOCK_SELF_SERVICE=review): it is enabled, and its developer is mailed',
      ),
  ).action((id: string, o: ClientFlags) =>
    withStore(o, async (store, config) => {
      const ctx = { store, clock: systemClock };
      const approved = await registryErrors(approveClient(ctx, id, cliActor()));
      if (!approved) throw new CliError(`client ${id} is not awaiting approval`);
      const client = await mustGetClient(store, id);
      const owner = client.owner_user_id ? await store.users.byId(client.owner_user_id) : undefined;
      const to = owner?.username ?? client.owner_email ?? client.developer_email;
      if (to) {
        // Loaded here so that other admin commands do not pay for the mailer.
        const [{ default: pino }, { createMailer }] = await Promise.all([
          import('pino'),
          import('../jobs/mail.ts'),
        ]);
        const log = pino({ level: config.logLevel }, pino.destination({ dest: 2, sync: true }));
        const mailer = createMailer(config, log);
        try {
          await mailer.send(approvalMail(to, client, config.issuer));
        } catch (err) {
          process.stderr.write(
            `paddock: warning: client ${id} is approved, but the mail to its developer failed: ${(err as Error).message}\n`,
          );
        } finally {
          mailer.close();
        }
      }
      await show(store, client, !!o.json);
    }),
  );

  withCommon(
    clients
      .command('allow-user <client_id> <username>')
      .description(`add a user to the password_limited access list (at most ${MAX_PASSWORD_LIMITED_USERS})`),
  ).action((id: string, username: string, o: ClientFlags) =>
    withStore(o, async (store) => {
      const client = await mustGetClient(store, id);
      const user = await store.users.byUsername(normalizeId(username));
      if (!user) throw new CliError(`no user ${username}`);
      const result = await store.allowUser(client.client_id, user.user_id, now());
      if (result === 'full') {
        throw new CliError(
          `client ${id} already has ${MAX_PASSWORD_LIMITED_USERS} password_limited users; disallow one first`,
        );
      }
      if (result === 'added') {
        await auditCli(store, 'client.user_allowed', clientObject(id), { username: user.username });
      }
      await show(store, client, !!o.json);
    }),
  );

  withCommon(
    clients.command('disallow-user <client_id> <username>').description('remove a user from the access list'),
  ).action((id: string, username: string, o: ClientFlags) =>
    withStore(o, async (store) => {
      const client = await mustGetClient(store, id);
      const user = await store.users.byUsername(normalizeId(username));
      if (!user || !(await store.disallowUser(client.client_id, user.user_id))) {
        throw new CliError(`${username} is not on the access list of ${id}`);
      }
      // An approval the user gave is over too, so `clients invitations` does not show it as current.
      await store.invitations.markWithdrawn(client.client_id, user.username, now());
      await auditCli(store, 'client.user_disallowed', clientObject(id), { username: user.username });
      await show(store, client, !!o.json);
    }),
  );

  withCommon(
    clients
      .command('delete <client_id>')
      .description('delete a client with its sessions, refresh tokens, codes and consents')
      .option('--yes', 'do not ask for confirmation (for scripts)'),
  ).action((id: string, o: ClientFlags & { yes?: boolean }) =>
    withStore(o, async (store) => {
      const client = await mustGetClient(store, id);
      if (!o.yes) {
        if (!process.stdin.isTTY) {
          throw new CliError(`clients delete asks for confirmation on a terminal; add --yes to delete ${id}`);
        }
        const n = await store.lifecycle.dependents(id);
        const question =
          `Delete client ${id} ("${client.client_name}") with its ${n.sessions} sessions and ` +
          `${n.consents} consents? This cannot be undone. [y/N] `;
        if (!(await confirm(question))) throw new CliError(`client ${id} was not deleted`);
      }
      await registryErrors(deleteClient({ store, clock: systemClock }, id, cliActor()));
      print({ client_id: id, deleted: true }, !!o.json);
    }),
  );

  withCommon(
    clients
      .command('sweep-inactive')
      .description(
        'send the inactivity notices due (90, 120, 150 days) and disable clients unused for 180 days',
      )
      .option('--dry-run', 'report what would be done; send nothing and change nothing')
      .option(
        '--as-of <date>',
        'run as if it were this date (YYYY-MM-DD, to the end of that day UTC)',
        parseAsOf,
      ),
  ).action((o: ClientFlags & { dryRun?: boolean; asOf?: number }) =>
    withStore(o, async (store, config) => {
      // Loaded here so that other admin commands do not pay for the mailer.
      const [{ default: pino }, { sweepInactiveClients }, { createMailer }] = await Promise.all([
        import('pino'),
        import('../jobs/inactivity-sweep.ts'),
        import('../jobs/mail.ts'),
      ]);
      const log = pino(
        { level: config.logLevel, base: { job: 'inactivity-sweep' } },
        pino.destination({ dest: 2, sync: true }),
      );
      const mailer = o.dryRun ? undefined : createMailer(config, log);
      try {
        const outcomes = await sweepInactiveClients(
          { store, clock: systemClock, config, log, mailer },
          { asOf: o.asOf, dryRun: !!o.dryRun },
        );
        printSweep(outcomes, !!o.json);
      } finally {
        mailer?.close();
      }
    }),
  );
}
