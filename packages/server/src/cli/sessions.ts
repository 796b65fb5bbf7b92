// Staff commands on users' sessions: start one as the user (impersonation), list, revoke.
// - an impersonated session carries the staff member's note and shows in the user's own /sessions;
// - every impersonation and revocation is audited and logged at info with the note; tokens never are.
import type { Command } from 'commander';
import pino from 'pino';
import { systemClock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { AppContext } from '../context.ts';
import { Metrics } from '../metrics/metrics.ts';
import { OAuthError } from '../oauth/errors.ts';
import { normalizeId } from '../oauth/masking.ts';
import { formatScope, parseScope } from '../oauth/scopes.ts';
import { prepareSession, saveSession, sessionTokens } from '../sessions/create.ts';
import { geoLookup, sessionPlaces } from '../sessions/geo.ts';
import { sessionView } from '../sessions/view.ts';
import type { Store } from '../store/store.ts';
import type { UserRecord } from '../store/types.ts';
import { KeyRing } from '../tokens/keys.ts';
import { deriveKey, loadMasterKey } from '../tokens/master-key.ts';
import { auditCli, now, withCommon, withStore } from './common.ts';
import { CliError, print } from './output.ts';

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REVOKED_BY_STAFF = 'revoked_by_staff';
const NOTE_MAX = 1000;

interface SessionFlags {
  dataDir?: string;
  json?: boolean;
  user?: string;
  client?: string;
  note?: string;
  scope?: string;
  issuer?: string;
}

/** Logs staff acts to standard error as the server logs (JSON lines, PADDOCK_LOG_LEVEL). */
function staffLog(config: Config) {
  return pino(
    { level: config.logLevel, base: { component: 'cli' } },
    pino.destination({ fd: 2, sync: true }),
  );
}

async function mustGetUser(store: Store, username: string): Promise<UserRecord> {
  const user = await store.users.byUsername(normalizeId(username));
  if (!user) throw new CliError(`no user ${username}`);
  return user;
}

function parseNote(raw: string | undefined): string {
  const note = (raw ?? '').trim();
  if (note === '') throw new CliError('--note must say who impersonates the user, why, and the approval');
  if (note.length > NOTE_MAX) throw new CliError(`--note must be at most ${NOTE_MAX} characters`);
  // Control characters would forge lines in the log and the listings.
  if (/\p{Cc}/u.test(note)) throw new CliError('--note must be one line of printable text');
  return note;
}

/** What minting tokens needs, built from the CLI's store without the HTTP stack. */
async function cliContext(store: Store, config: Config): Promise<AppContext> {
  const masterKey = loadMasterKey(config);
  const keys = new KeyRing(store, masterKey, now);
  await keys.init();
  return {
    config,
    store,
    clock: systemClock,
    keys,
    csrfKey: deriveKey(masterKey, 'csrf'),
    totpKey: deriveKey(masterKey, 'totp'),
    metrics: new Metrics(),
  };
}

export function sessionsCommand(program: Command): void {
  const sessions = program.command('sessions').description("staff access to users' sessions");

  withCommon(
    sessions
      .command('impersonate')
      .description('start a session as a user with a client, and print its tokens')
      .requiredOption('--user <username>', 'the user to act as')
      .requiredOption('--client <client_id>', 'the client the session is with')
      .requiredOption('--note <text>', 'who impersonates, why, and a reference to the customer approval')
      .option('--scope <scopes>', 'space-separated scopes (default: none)')
      .option('--issuer <url>', "the server's issuer URL, the tokens' iss (env PADDOCK_ISSUER)"),
  ).action((o: SessionFlags) =>
    withStore(o, async (store, config) => {
      const note = parseNote(o.note);
      let scope: string | null;
      try {
        scope = formatScope(parseScope(o.scope));
      } catch (err) {
        if (err instanceof OAuthError) throw new CliError(`--scope: ${err.message}`);
        throw err;
      }
      const user = await mustGetUser(store, o.user!);
      const client = await store.getClient(o.client!);
      if (!client) throw new CliError(`no client ${o.client}`);
      if (client.disabled_at !== null) throw new CliError(`client ${client.client_id} is disabled`);
      if (!user.subscription_active) throw new CliError(`user ${user.username} has no active subscription`);
      const ctx = await cliContext(store, config);
      const t = now();
      const p = prepareSession(
        ctx,
        {
          user,
          client,
          scope,
          grantType: 'impersonation',
          authTime: t,
          ip: null,
          userAgent: null,
          impersonationNote: note,
        },
        t,
      );
      const sessionId = p.session.session_id;
      // The session exists only with its audit entry.
      await store.transaction(async (tx) => {
        await saveSession(tx, p, t);
        await auditCli(
          tx,
          'session.impersonated',
          { type: 'user', id: user.user_id },
          { session_id: sessionId, client_id: client.client_id, scope, impersonation_note: note },
        );
      });
      const tokens = await sessionTokens(ctx, p, t);
      staffLog(config).info(
        { user_id: user.user_id, client_id: client.client_id, session_id: sessionId, scope, note },
        'staff impersonation: session started',
      );
      print({ ...tokens, session_id: sessionId }, !!o.json);
    }),
  );

  withCommon(
    sessions
      .command('list')
      .description("list a user's live sessions (the book's session objects)")
      .requiredOption('--user <username>', 'the user')
      .option('--client <client_id>', 'only the sessions with this client'),
  ).action((o: SessionFlags) =>
    withStore(o, async (store, config) => {
      const user = await mustGetUser(store, o.user!);
      const t = now();
      const rows = await store.sessions.liveOfUser(user.user_id, o.client, t);
      const lookup = rows.length ? await geoLookup(config) : () => null;
      const clients = new Map<string, Awaited<ReturnType<Store['getClient']>>>();
      const out = [];
      for (const s of rows) {
        if (!clients.has(s.client_id)) clients.set(s.client_id, await store.getClient(s.client_id));
        const client = clients.get(s.client_id);
        if (client) out.push(sessionView(s, client, '', sessionPlaces(lookup, s)));
      }
      print(out, !!o.json);
    }),
  );

  withCommon(
    sessions
      .command('revoke <session_id...>')
      .description('revoke sessions by id; all must exist, or none is revoked'),
  ).action((ids: string[], o: SessionFlags) =>
    withStore(o, async (store, config) => {
      const unique = [...new Set(ids)];
      const bad = unique.find((id) => !SESSION_ID.test(id));
      if (bad !== undefined) throw new CliError(`"${bad}" is not a session id`);
      const t = now();
      const revoked = await store.transaction(async (tx) => {
        const found = [];
        for (const id of unique) {
          const s = await tx.getSession(id);
          if (!s) throw new CliError(`no session ${id}`);
          found.push(s);
        }
        const done = [];
        for (const s of found) {
          const changed = await tx.revokeSession(s.session_id, REVOKED_BY_STAFF, t);
          done.push({
            session_id: s.session_id,
            user_id: s.user_id,
            client_id: s.client_id,
            revoked: changed,
          });
        }
        return done;
      });
      const log = staffLog(config);
      for (const r of revoked.filter((x) => x.revoked)) {
        await auditCli(
          store,
          'session.revoked',
          { type: 'session', id: r.session_id },
          { user_id: r.user_id, client_id: r.client_id, revoked_reason: REVOKED_BY_STAFF },
        );
        log.info(
          { session_id: r.session_id, user_id: r.user_id, client_id: r.client_id },
          'staff revoked a session',
        );
      }
      print(
        revoked.map((r) => ({
          session_id: r.session_id,
          status: r.revoked ? 'revoked' : 'already revoked',
        })),
        !!o.json,
      );
    }),
  );
}
