// A headless client in the book's Data API Workflow, signing in with the Password Limited Flow: a
// confidential client (it has a secret) acting for its one pre-registered user, with no browser at all.
//
// TokenManager does the workflow's bookkeeping: it uses the access token until shortly before it
// expires, then trades the refresh token for new tokens (single use: it keeps the new one), and signs in
// again with password_limited only when there is no usable refresh token. The grant is meant for
// start-up only; it is rate-limited and slow on purpose. The tokens live in a FileTokenStore, a JSON file
// only this user can read (mode 0600), so a restart reuses them instead of signing in again.
//
// The SDK masks the client secret (with the client_id) and the password (with the username) before
// sending them, as the book requires. This program never prints a token, the secret or the password.
//
//   node examples/data-api/server.mjs &        # the Data API it calls
//   node examples/headless/index.mjs           # against `paddock dev`'s demo client and user
//
// Environment (defaults: `paddock dev`'s public demo data, never to be used outside a laptop):
//   PADDOCK_ISSUER          the authorization server          (http://127.0.0.1:8080)
//   PADDOCK_CLIENT_ID       a confidential password_limited client with the audience data-server
//                                                             (demo-headless)
//   PADDOCK_CLIENT_SECRET   its secret                        (paddock-demo-secret-not-for-production)
//   PADDOCK_USERNAME        the user registered for it        (john.west@iracing.com)
//   PADDOCK_PASSWORD        their password                    (the demo user's)
//   PADDOCK_TOKEN_FILE      where to keep the tokens          (<temp dir>/paddock-examples-<uid>/headless-tokens.json)
//   PADDOCK_MARGIN_SECONDS  renew when the access token has this many seconds left (the SDK's default, 30)
//   DATA_API_URL            the Data API                      (http://127.0.0.1:8081)
//   CALLS                   how many calls to make            (10)
//   INTERVAL_MS             the pause between two calls       (1000)
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OAuthClient, OAuthError, TokenManager } from '@paddock/client';
import { FileTokenStore } from '@paddock/client/node';

export const DEFAULTS = {
  issuer: 'http://127.0.0.1:8080',
  clientId: 'demo-headless',
  clientSecret: 'paddock-demo-secret-not-for-production',
  username: 'john.west@iracing.com',
  password: 'Anagram-tactics-FOOTING-OPACITY-SHONE-keenly',
  dataApi: 'http://127.0.0.1:8081',
  calls: 10,
  intervalMs: 1000,
};

/**
 * The default token file: in the temporary directory, in a folder of this user's own (FileTokenStore
 * creates it with mode 0700). The file holds no issuer or client: give each client and server its own.
 */
export function defaultTokenFile() {
  let uid = 'user';
  try {
    uid = String(os.userInfo().uid);
  } catch {}
  return path.join(os.tmpdir(), `paddock-examples-${uid}`, 'headless-tokens.json');
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Calls GET {dataApi}/data/member/info `calls` times, `intervalMs` apart, printing one line per call
 * through `log`. Returns { calls, ok, failed, renewals }: `renewals` counts the calls made with an
 * access token other than the previous call's (the first sign-in included).
 * Options: issuer, clientId, clientSecret, username, password, scope, dataApi, calls, intervalMs,
 * tokenFile, marginSeconds, log, fetch (used for every request), signal (stops the loop).
 */
export async function run(options = {}) {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...DEFAULTS, tokenFile: defaultTokenFile(), scope: 'iracing.auth', log: console.log, ...given };
  const fetchImpl = o.fetch ?? ((input, init) => globalThis.fetch(input, init));

  const client = new OAuthClient({
    issuer: o.issuer,
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    fetch: fetchImpl,
  });
  const tokens = new TokenManager({
    client,
    store: new FileTokenStore(o.tokenFile),
    // With credentials, the manager signs in by itself when it has no tokens or its refresh token is
    // refused. The SDK masks the password before it leaves the process.
    credentials: { username: o.username, password: o.password, scope: o.scope },
    ...(o.marginSeconds !== undefined && { marginSeconds: o.marginSeconds }),
  });

  const result = { calls: 0, ok: 0, failed: 0, renewals: 0 };
  let previous;
  for (let i = 1; i <= o.calls && !o.signal?.aborted; i++) {
    if (i > 1) await sleep(o.intervalMs, o.signal);
    if (o.signal?.aborted) break;
    result.calls++;
    const prefix = `call ${i}/${o.calls}:`;

    let accessToken;
    try {
      // The current access token, or a renewed one: the manager decides, and never runs two renewals
      // at once (a refresh token used twice makes the server revoke the whole session).
      accessToken = await tokens.getAccessToken();
    } catch (err) {
      // An OAuthError's message is "<error>: <description>" and never holds a secret or a token.
      result.failed++;
      o.log(`${prefix} no access token: ${err instanceof OAuthError ? err.message : String(err)}`);
      continue;
    }
    const renewed = accessToken !== previous;
    if (renewed) result.renewals++;
    previous = accessToken;

    let res;
    let body;
    try {
      res = await fetchImpl(`${o.dataApi}/data/member/info`, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      });
      body = await res.json().catch(() => undefined);
    } catch (err) {
      result.failed++;
      o.log(`${prefix} the Data API did not answer: ${err.message}`);
      continue;
    }
    const note = renewed ? (i === 1 ? ' (access token ready)' : ' (new access token)') : '';
    if (res.ok) {
      result.ok++;
      o.log(
        `${prefix} ${res.status} cust_id=${body?.cust_id} env=${body?.env} client_id=${body?.client_id}${note}`,
      );
    } else {
      // An invalid_token here means the token was revoked or expired early: a real client would renew
      // and try again. The description comes from the verifier and never contains the token.
      result.failed++;
      o.log(`${prefix} ${res.status} ${body?.error ?? ''}: ${body?.error_description ?? ''}${note}`);
    }
  }
  return result;
}

// Run directly (`node index.mjs`), not imported: settings from the environment, stop on Ctrl-C.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = process.env;
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  const summary = await run({
    issuer: env.PADDOCK_ISSUER || DEFAULTS.issuer,
    clientId: env.PADDOCK_CLIENT_ID || DEFAULTS.clientId,
    clientSecret: env.PADDOCK_CLIENT_SECRET || DEFAULTS.clientSecret,
    username: env.PADDOCK_USERNAME || DEFAULTS.username,
    password: env.PADDOCK_PASSWORD || DEFAULTS.password,
    tokenFile: env.PADDOCK_TOKEN_FILE || defaultTokenFile(),
    marginSeconds: env.PADDOCK_MARGIN_SECONDS ? Number(env.PADDOCK_MARGIN_SECONDS) : undefined,
    dataApi: env.DATA_API_URL || DEFAULTS.dataApi,
    calls: Number(env.CALLS || DEFAULTS.calls),
    intervalMs: Number(env.INTERVAL_MS || DEFAULTS.intervalMs),
    signal: stop.signal,
  });
  console.log(`${summary.ok} of ${summary.calls} calls succeeded; ${summary.renewals} access token(s) used`);
  process.exitCode = summary.failed > 0 ? 1 : 0;
}
