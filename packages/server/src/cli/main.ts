import { Command, CommanderError } from 'commander';
import { type Config, ConfigError, endpoints } from '../config.ts';
import type { DEMO as Demo } from '../dev/seed.ts';
import { mask } from '../oauth/masking.ts';
import { migrate } from '../store/migrations.ts';
import { configFrom, now, withCommon, withStore } from './common.ts';
import { CliError, print } from './output.ts';

/**
 * The command groups, each in its module, imported only when its group runs (or for the full command
 * list: --help, an unknown or missing command): a command pays for its own code alone.
 */
const GROUPS: Record<string, () => Promise<(program: Command) => void>> = {
  clients: async () => (await import('./clients.ts')).clientsCommand,
  users: async () => (await import('./users.ts')).usersCommand,
  sessions: async () => (await import('./sessions.ts')).sessionsCommand,
  keys: async () => (await import('./keys.ts')).keysCommand,
  audit: async () => (await import('./audit.ts')).auditCommand,
};

interface ServeFlags {
  host?: string;
  port?: string;
  issuer?: string;
  dataDir?: string;
  workers?: string;
}

function serveFlags(cmd: Command): Command {
  return withCommon(cmd, false)
    .option('--host <host>', 'address to listen on (env PADDOCK_HOST; default 127.0.0.1)')
    .option('--port <port>', 'port to listen on (env PADDOCK_PORT; default 8080)')
    .option('--issuer <url>', 'issuer URL (env PADDOCK_ISSUER; default http://HOST:PORT)')
    .option(
      '--workers <n>',
      'processes serving the port (env PADDOCK_WORKERS; default: serve, one per core; dev, 1)',
    );
}

async function serve(flags: ServeFlags, seed: boolean): Promise<void> {
  const config = configFrom(flags, seed ? { selfService: 'on' } : {});
  // Loaded here so that admin commands do not pay for the HTTP stack.
  const cluster = await import('../cluster.ts');
  const workers = cluster.workerCount(flags.workers, process.env.PADDOCK_WORKERS, seed ? 1 : cluster.cores());
  // Every worker computes the same count from the same arguments and environment. Where libsodium loads,
  // signing takes less of the event loop than a hand-off to libuv's thread pool costs (and half the CPU):
  // everything stays on the event loop. Otherwise node:crypto's signatures and checks go to the pool only
  // where a core would idle: not with a worker per core, and not with PostgreSQL, whose own processes
  // take the other cores when it runs beside Paddock (and when it runs elsewhere, a worker per core is
  // what to run).
  const { libsodiumLoads } = await import('../tokens/ed25519.ts');
  (await import('../tokens/jwt.ts')).offloadSignatures(
    !libsodiumLoads() && !config.databaseUrl && workers < cluster.cores(),
  );
  if (cluster.isWorker()) return serveOne(config, true, false);
  // Demo data is in place before the first request can arrive.
  const demo = seed ? await import('../dev/seed.ts') : undefined;
  if (demo) await withStore(flags, (store) => demo.seedDemo(store, now()));
  if (workers === 1) {
    await serveOne(config, false, seed);
  } else {
    const primary = await cluster.runPrimary(config, workers);
    let stopping = false;
    const stop = async (signal: NodeJS.Signals) => {
      if (stopping) {
        primary.log.warn({ signal }, 'shutdown: second signal, stopping the workers now');
        primary.kill();
        process.exit(1);
      }
      stopping = true;
      primary.log.info({ signal }, 'shutdown: draining every worker');
      const clean = await primary.stop(signal);
      primary.log.info({ clean }, 'shutdown: complete');
      process.exit(clean ? 0 : 1);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  }
  if (demo) process.stdout.write(devBanner(demo.DEMO, config.issuer, endpoints(config)));
}

/** One process serving: the whole server, or one worker of several (without the admin listener). */
async function serveOne(config: Config, worker: boolean, dev: boolean): Promise<void> {
  const { startServer } = await import('../server.ts');
  // The request inspector exists in dev only: serve never creates one, whatever its configuration says.
  const { RequestInspector } = await import('../dev/inspector.ts');
  const inspector = dev ? new RequestInspector({ console: (line) => process.stderr.write(line) }) : undefined;
  const server = await startServer(worker ? { ...config, adminPort: undefined } : config, undefined, {
    inspector,
  });
  if (worker) {
    const [{ reportToPrimary }, { metricsFromPrimary }] = await Promise.all([
      import('../metrics/metrics.ts'),
      import('../cluster.ts'),
    ]);
    reportToPrimary(server.ctx.metrics);
    metricsFromPrimary(server.ctx.metrics);
  }
  // Exit 0 when every request in flight was answered; 1 when PADDOCK_SHUTDOWN_TIMEOUT cut some off, or
  // when a second signal asks to stop at once. A worker leaves a second signal to its primary (Ctrl-C
  // reaches the primary and the workers, and the primary passes it on).
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      if (worker) return;
      server.app.log.warn({ signal }, 'shutdown: second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    server.app.log.info({ signal }, 'shutdown: draining requests in flight');
    let clean = false;
    try {
      clean = await server.close();
    } catch (err) {
      server.app.log.error({ err }, 'shutdown failed');
    }
    if (clean) server.app.log.info('shutdown: complete');
    process.exit(clean ? 0 : 1);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function devBanner(DEMO: typeof Demo, issuer: string, urls: ReturnType<typeof endpoints>): string {
  const tokenUrl = urls.token;
  const secret = mask(DEMO.headlessSecret, DEMO.headlessClient);
  const password = mask(DEMO.password, DEMO.username);
  return `
Paddock is running at ${issuer} with demo data (for local development only).

  user           ${DEMO.username}   password ${DEMO.password}
                 ${DEMO.name}, cust id ${DEMO.custId}, groups ${DEMO.groups.join(',')}, env ${DEMO.env}
  headless       client_id ${DEMO.headlessClient}   client_secret ${DEMO.headlessSecret}
                 (confidential; password_limited + refresh_token; audience data-server)
  public (PKCE)  client_id ${DEMO.publicClient}   redirect_uri ${DEMO.publicRedirectUri}

The client_secret above is the raw secret: give it (and the raw password) to @paddock/client, which masks
them for you; a masked secret given to the SDK is masked twice and refused.

Why was a request refused? The request inspector lists every request and explains each refusal:
  ${issuer}/oauth2/dev

First token with curl (here the secret and password are already masked, as the book requires):

curl -s ${tokenUrl} --data-urlencode grant_type=password_limited --data-urlencode client_id=${DEMO.headlessClient} --data-urlencode 'client_secret=${secret}' --data-urlencode username=${DEMO.username} --data-urlencode 'password=${password}' --data-urlencode 'scope=iracing.auth iracing.profile'

`;
}

/** The commands defined here, which need no group. */
const OWN = new Set(['serve', 'dev', 'migrate']);

/**
 * The program: every command, or with `only` the one group a command line names (the others are left
 * out, not loaded).
 */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('paddock')
    .description('Paddock: an OAuth 2.1 authorization server')
    .showHelpAfterError(false)
    .exitOverride();

  serveFlags(program.command('serve').description('run the server')).action((o: ServeFlags) =>
    serve(o, false),
  );
  serveFlags(
    program
      .command('dev')
      .description('run the server with demo users and clients, and print how to get a token'),
  ).action((o: ServeFlags) => serve(o, true));
  withCommon(program.command('migrate').description('apply pending database migrations')).action(
    (o: { dataDir?: string; json?: boolean }) =>
      withStore(o, async (store) => {
        // openStore has already migrated; report where the schema stands.
        const applied = await migrate(store.db, now());
        const row = await store.db.all<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations');
        print({ schema_version: Number(row[0]?.v ?? 0), applied }, !!o.json);
      }),
  );
  const groups =
    only === undefined
      ? Object.keys(GROUPS)
      : only in GROUPS
        ? [only]
        : OWN.has(only)
          ? []
          : Object.keys(GROUPS);
  const define = await Promise.all(groups.map((name) => GROUPS[name]!()));
  for (const d of define) d(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // The first word after the program is the command (no option comes before it).
  const program = await buildProgram(argv[2]);
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  // Commander's own messages are suppressed (fail() prints one line instead); remember which command
  // tried to print its help for a missing subcommand, which commander reports only as "(outputHelp)".
  let helpOf: Command = program;
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().configureOutput({
      writeErr: () => {
        helpOf = cmd;
      },
    });
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exit(0);
      if (err.code === 'commander.help') {
        const name = commandPath(helpOf);
        const subs = helpOf.commands.map((c) => c.name()).filter((n) => n !== 'help');
        fail(`${name} needs a command (${subs.join(', ')}); see "${name} --help"`);
      }
      fail(err.message.replace(/^error: /, ''));
    }
    if (err instanceof CliError || err instanceof ConfigError) fail(err.message);
    if ((err as Error).message?.startsWith('signing key ')) fail((err as Error).message);
    const e = err as { code?: string; message?: string };
    if (e.code === 'ECONNREFUSED' || e.code === '3D000') fail(`cannot reach the database: ${e.message}`);
    if (e.code === 'EADDRINUSE') fail(`${e.message}: another process is listening there`);
    fail(`unexpected failure: ${e.message ?? String(err)}`);
  }
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

function fail(message: string): never {
  process.stderr.write(`paddock: ${message.split('\n')[0]}\n`);
  process.exit(1);
}
