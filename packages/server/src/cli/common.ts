import { type Command, Option } from 'commander';
import { notWholeSeconds, wholeSeconds } from '../clients/registry.ts';
import { seconds, systemClock } from '../clock.ts';
import { type CommandDefaults, type Config, loadConfig } from '../config.ts';
import { type AuditObject, audit, type Changes, cliActor } from '../jobs/audit.ts';
import { openStore } from '../store/index.ts';
import type { Store } from '../store/store.ts';
import type { ClientRecord } from '../store/types.ts';
import { CliError, clientView, print } from './output.ts';

export interface CommonOptions {
  dataDir?: string;
  json?: boolean;
}

export const now = () => seconds(systemClock);

export function withCommon(cmd: Command, json = true): Command {
  cmd.option('--data-dir <dir>', 'data directory (env PADDOCK_DATA_DIR; default ./.paddock)');
  if (json) cmd.option('--json', 'print one JSON value');
  return cmd;
}

export function configFrom(
  opts: CommonOptions & { host?: string; port?: string; issuer?: string },
  defaults: CommandDefaults = {},
): Config {
  return loadConfig(
    process.env,
    {
      dataDir: opts.dataDir,
      host: opts.host,
      port: opts.port,
      issuer: opts.issuer,
    },
    defaults,
  );
}

/** Opens the store of the configured data dir or database, runs fn, and closes it. */
export async function withStore<T>(
  opts: CommonOptions,
  fn: (store: Store, config: Config) => Promise<T>,
): Promise<T> {
  const config = configFrom(opts);
  const store = await openStore(config, now());
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

/** Records an administrative act done from the command line, by the operating-system user on this host. */
export function auditCli(
  store: Store,
  action: string,
  object: AuditObject,
  changes?: Changes,
): Promise<void> {
  return audit({ store, clock: systemClock }, cliActor(), action, object, changes);
}

export const userObject = (u: { user_id: string }): AuditObject => ({ type: 'user', id: u.user_id });
export const clientObject = (id: string): AuditObject => ({ type: 'client', id });

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseSeconds(name: string) {
  return (value: string): number => {
    const s = wholeSeconds(value);
    if (s === undefined) throw new CliError(notWholeSeconds(name));
    return s;
  };
}

export function parseIntArg(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new CliError(`${name} must be a whole number, got "${value}"`);
    return Number(value);
  };
}

export function parseGroups(value: string): number[] {
  if (value.trim() === '') return [];
  return value.split(',').map((g) => {
    const t = g.trim();
    if (!/^\d+$/.test(t)) throw new CliError(`--groups must be comma-separated numbers, got "${value}"`);
    return Number(t);
  });
}

/** Reads the whole of standard input, without its trailing newline. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export async function passwordFrom(opts: { password?: string; passwordStdin?: boolean }): Promise<string> {
  if (opts.password !== undefined && opts.passwordStdin) {
    throw new CliError('give either --password or --password-stdin, not both');
  }
  if (opts.passwordStdin) return readStdin();
  if (opts.password !== undefined) return opts.password;
  throw new CliError('a password is required: --password-stdin (preferred) or --password P');
}

export const passwordOptions = (cmd: Command) =>
  cmd
    .option('--password-stdin', 'read the password from standard input')
    .addOption(
      new Option('--password <password>', 'the password (visible to other users: prefer --password-stdin)'),
    );

export async function mustGetClient(store: Store, id: string): Promise<ClientRecord> {
  const client = await store.getClient(id);
  if (!client) throw new CliError(`no client ${id}`);
  return client;
}

/** Prints a client as `clients show` does; with `secret`, the secret it was just given (shown once). */
export async function showClient(store: Store, client: ClientRecord, json: boolean, secret?: string) {
  print(clientView(client, await store.allowedUsernames(client.client_id), secret), !!json);
}
