// The benchmark's token minter: a child process of bench/paddock-target.mjs that opens the benchmarked
// server's store beside it (SQLite in WAL mode lets a second process write; so would PostgreSQL) and
// mints refresh tokens through the server's own modules: the configuration, the context (store,
// signing keys from the master key) and the session code the grants use (`prepareSession` +
// `saveSession`, as the authorization_code grant calls them). The server itself has no minting
// route and no benchmark setting; it sees these sessions as it sees any other.
//
// Protocol, over the IPC channel of child_process.fork():
//   parent -> { id, op: 'mint', n, client }         child -> { id, items: [refresh token, ...] }
//   parent -> { id, op: 'mint-codes', n, client }   child -> { id, items: [{ code, code_verifier, redirect_uri }, ...] }
//   parent -> { id, op: 'mint-access', n, client }  child -> { id, items: [access token, ...] }
//   (client: 'confidential' | 'public')
//   parent -> { id, op: 'reset' }     child -> { id, ok: true }
//   child  -> { ready: true } once the store and keys are open; { id, error } when an op fails.
// The child exits when the channel closes (the bench is gone, however it died).
//
// argv: --data-dir D --host H --port P (the server's flags, so issuer and token audience match);
// the environment is the server's (the same PADDOCK_SQLITE_SYNCHRONOUS etc.).
import { createHash, randomBytes } from 'node:crypto';
import { register } from 'tsx/esm/api';

register();
const SRC = '../../packages/server/src';
const { loadConfig } = await import(`${SRC}/config.ts`);
const { createContext } = await import(`${SRC}/server.ts`);
const { prepareSession, saveSession } = await import(`${SRC}/sessions/create.ts`);
const { seconds } = await import(`${SRC}/clock.ts`);
const { sha256 } = await import(`${SRC}/tokens/hash.ts`);
const { mintAccessToken } = await import(`${SRC}/tokens/issue.ts`);

// The bench's clients, by the peer harness's kinds. The public one is a native app (loopback redirect).
const CLIENT_IDS = { confidential: 'bench-confidential', public: 'bench-public' };
const REDIRECT_URIS = {
  confidential: 'https://client.bench.test/cb',
  public: 'http://127.0.0.1:8123/cb', // registered in the native form http://127.0.0.1:0/cb
};
const USERNAME = 'bench@example.com';
// Marks the benchmark's sessions so `reset` removes only those.
const USER_AGENT = 'paddock-bench';
// Sessions stored per transaction: one commit (and with synchronous=FULL one fsync) per batch.
const BATCH = 500;
const MAX_PER_REQUEST = 200_000;

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

const config = loadConfig(process.env, { dataDir: args['data-dir'], host: args.host, port: args.port });
const ctx = await createContext(config);
const clients = {};
for (const [kind, id] of Object.entries(CLIENT_IDS)) clients[kind] = await ctx.store.getClient(id);
const user = await ctx.store.users.byUsername(USERNAME);
if (!clients.confidential || !user)
  throw new Error(`minter: client ${CLIENT_IDS.confidential} and user ${USERNAME} must exist`);
function clientOf(kind) {
  const c = clients[kind ?? 'confidential'];
  if (!c) throw new Error(`minter: no ${kind} client is set up`);
  return c;
}
const count = (n) => Math.min(Math.max(Math.floor(Number(n)) || 0, 0), MAX_PER_REQUEST);

// Refresh tokens: `n` fresh sessions (what a sign-in stores), their first refresh tokens. With
// `access: true`, access tokens of those sessions instead (scope with iracing.profile, for the
// bearer call), signed as the grants sign them.
async function mint(n, kind, { access = false } = {}) {
  const client = clientOf(kind);
  const total = count(n);
  const items = [];
  while (items.length < total) {
    const now = seconds(ctx.clock);
    const batch = [];
    for (let i = 0; i < Math.min(BATCH, total - items.length); i++) {
      batch.push(
        prepareSession(
          ctx,
          {
            user,
            client,
            scope: access ? 'iracing.auth iracing.profile' : 'iracing.auth',
            grantType: 'password_limited',
            authTime: now,
            ip: '127.0.0.1',
            userAgent: USER_AGENT,
          },
          now,
        ),
      );
    }
    await ctx.store.transaction(async (tx) => {
      for (const p of batch) await saveSession(tx, p, now);
    });
    for (const p of batch)
      items.push(access ? (await mintAccessToken(ctx, p.session, user, client, now)).token : p.refresh.token);
  }
  return items;
}

// Authorization codes with a PKCE S256 challenge, stored as the authorize endpoint stores them after
// consent (same code size, the server's code lifetime), each with its own code_verifier.
async function mintCodes(n, kind) {
  const client = clientOf(kind);
  const redirectUri = REDIRECT_URIS[kind ?? 'confidential'];
  const total = count(n);
  const items = [];
  while (items.length < total) {
    const now = seconds(ctx.clock);
    const batch = [];
    for (let i = 0; i < Math.min(BATCH, total - items.length); i++) {
      const code = randomBytes(32).toString('base64url');
      const verifier = randomBytes(32).toString('base64url');
      batch.push({
        item: { code, code_verifier: verifier, redirect_uri: redirectUri },
        row: {
          code_hash: sha256(code),
          client_id: client.client_id,
          user_id: user.user_id,
          redirect_uri: redirectUri,
          scope: 'iracing.auth',
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
          auth_time: now,
          ip: '127.0.0.1',
          user_agent: USER_AGENT,
          created_at: now,
          expires_at: now + ctx.config.codeTtl,
          used_at: null,
          session_id: null,
        },
      });
    }
    await ctx.store.transaction(async (tx) => {
      for (const b of batch) await tx.flow.insertAuthorizationCode(b.row);
    });
    for (const b of batch) items.push(b.item);
  }
  return items;
}

// The server never deletes sessions (it revokes them), so no store method does: the bench empties its
// own rows between runs so that every run starts with tables of the same size. Refresh tokens go with
// their session (ON DELETE CASCADE).
async function reset() {
  await ctx.store.db.run('DELETE FROM authorization_codes WHERE user_agent = ?', [USER_AGENT]);
  await ctx.store.db.run('DELETE FROM sessions WHERE first_user_agent = ?', [USER_AGENT]);
}

let queue = Promise.resolve();
process.on('message', (msg) => {
  queue = queue.then(async () => {
    try {
      if (msg.op === 'mint') process.send({ id: msg.id, items: await mint(msg.n, msg.client) });
      else if (msg.op === 'mint-access')
        process.send({ id: msg.id, items: await mint(msg.n, msg.client, { access: true }) });
      else if (msg.op === 'mint-codes')
        process.send({ id: msg.id, items: await mintCodes(msg.n, msg.client) });
      else if (msg.op === 'reset') {
        await reset();
        process.send({ id: msg.id, ok: true });
      } else process.send({ id: msg.id, error: `unknown op ${JSON.stringify(msg.op)}` });
    } catch (err) {
      process.send({ id: msg.id, error: err?.stack || String(err) });
    }
  });
});
process.on('disconnect', async () => {
  await queue.catch(() => {});
  ctx.keys.stop();
  await ctx.store.close();
  process.exit(0);
});
process.send({ ready: true });
