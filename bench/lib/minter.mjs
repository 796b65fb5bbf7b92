// The benchmark's token minter: a child process of bench/paddock-target.mjs that opens the benchmarked
// server's store beside it (SQLite in WAL mode lets a second process write; so would PostgreSQL) and
// mints refresh tokens through the server's own modules: the configuration, the context (store,
// signing keys from the master key) and the session code the grants use (`prepareSession` +
// `saveSession`, as the authorization_code grant calls them). The server itself has no minting
// route and no benchmark setting; it sees these sessions as it sees any other.
//
// Protocol, over the IPC channel of child_process.fork():
//   parent -> { id, op: 'mint', n }   child -> { id, items: [refresh token, ...] }
//   parent -> { id, op: 'reset' }     child -> { id, ok: true }
//   child  -> { ready: true } once the store and keys are open; { id, error } when an op fails.
// The child exits when the channel closes (the bench is gone, however it died).
//
// argv: --data-dir D --host H --port P (the server's flags, so issuer and token audience match);
// the environment is the server's (the same PADDOCK_SQLITE_SYNCHRONOUS etc.).
import { register } from 'tsx/esm/api';

register();
const SRC = '../../packages/server/src';
const { loadConfig } = await import(`${SRC}/config.ts`);
const { createContext } = await import(`${SRC}/server.ts`);
const { prepareSession, saveSession } = await import(`${SRC}/sessions/create.ts`);
const { seconds } = await import(`${SRC}/clock.ts`);

const CLIENT_ID = 'bench-confidential';
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
const client = await ctx.store.getClient(CLIENT_ID);
const user = await ctx.store.getUserByUsername(USERNAME);
if (!client || !user) throw new Error(`minter: client ${CLIENT_ID} and user ${USERNAME} must exist`);

async function mint(n) {
  const count = Math.min(Math.max(Math.floor(Number(n)) || 0, 0), MAX_PER_REQUEST);
  const items = [];
  while (items.length < count) {
    const now = seconds(ctx.clock);
    const batch = [];
    for (let i = 0; i < Math.min(BATCH, count - items.length); i++) {
      batch.push(
        prepareSession(
          ctx,
          {
            user,
            client,
            scope: 'iracing.auth',
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
    for (const p of batch) items.push(p.refresh.token);
  }
  return items;
}

// The server never deletes sessions (it revokes them), so no store method does: the bench empties its
// own rows between runs so that every run starts with tables of the same size. Refresh tokens go with
// their session (ON DELETE CASCADE).
async function reset() {
  await ctx.store.db.run('DELETE FROM sessions WHERE first_user_agent = ?', [USER_AGENT]);
}

let queue = Promise.resolve();
process.on('message', (msg) => {
  queue = queue.then(async () => {
    try {
      if (msg.op === 'mint') process.send({ id: msg.id, items: await mint(msg.n) });
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
