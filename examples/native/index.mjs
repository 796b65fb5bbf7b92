// A command-line app that signs its user in the way the book's Native Application Support describes,
// then shows who they are (the Identity Verification Workflow).
//
// The app is a public client: it is installed on the user's machine, so it cannot keep a secret and has
// none. It is registered with the redirect URI http://127.0.0.1:0/callback. loopbackLogin from
// @paddock/client/node then:
//   1. listens on a free port on 127.0.0.1 and puts that port in place of the 0;
//   2. opens the system browser at /authorize, with PKCE S256 (a fresh code verifier stays in this
//      process, only its challenge goes out) and a fresh state;
//   3. waits for the browser to come back to /callback, checks the state, and closes the listener;
//   4. trades the code (and the verifier) for tokens at /token.
// The user types their password into the authorization server's own page, never into this app.
//
//   node examples/native/index.mjs             # against `paddock dev`'s demo-spa client
//
// Environment:
//   PADDOCK_ISSUER        the authorization server        (default http://127.0.0.1:8080)
//   PADDOCK_CLIENT_ID     a public client registered with http://127.0.0.1:0/callback  (default demo-spa)
//   PADDOCK_REDIRECT_URI  that redirect URI               (default http://127.0.0.1:0/callback)
//   PADDOCK_SCOPE         the scopes to ask for           (default iracing.profile)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OAuthClient, OAuthError } from '@paddock/client';
import { loopbackLogin } from '@paddock/client/node';

export const DEFAULTS = {
  issuer: 'http://127.0.0.1:8080',
  clientId: 'demo-spa',
  redirectUri: 'http://127.0.0.1:0/callback',
  // /iracing/profile needs iracing.profile; add iracing.auth to call the Data API with the token too.
  scope: 'iracing.profile',
};

/**
 * Signs the user in and prints their profile through `log`; returns the profile.
 * Options: issuer, clientId, redirectUri, scope, openBrowser (default: the system browser; tests pass
 * one that plays the browser), timeoutMs, log (the result; default console.log), info (progress and the
 * address to open by hand when no browser starts; default console.error).
 */
export async function main(options = {}) {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...DEFAULTS, log: console.log, info: console.error, ...given };

  // No clientSecret: a public client proves it is the app that started the sign-in with PKCE instead.
  const client = new OAuthClient({ issuer: o.issuer, clientId: o.clientId });

  o.info('Opening your browser to sign in…');
  const tokens = await loopbackLogin({
    client,
    redirectUri: o.redirectUri,
    scope: o.scope,
    log: o.info,
    ...(o.openBrowser && { openBrowser: o.openBrowser }),
    ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
  });

  // The access token is used once, for /iracing/profile, and then forgotten with this process: the
  // Identity Verification Workflow needs nothing else. (Nothing here is ever printed or stored.)
  const profile = await client.profile(tokens.access_token);
  o.log(`Signed in as ${profile.iracing_name} (customer ID ${profile.iracing_cust_id})`);
  o.log(JSON.stringify(profile));
  return profile;
}

// Run directly (`node index.mjs`), not imported.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = process.env;
  try {
    await main({
      issuer: env.PADDOCK_ISSUER || undefined,
      clientId: env.PADDOCK_CLIENT_ID || undefined,
      redirectUri: env.PADDOCK_REDIRECT_URI || undefined,
      scope: env.PADDOCK_SCOPE || undefined,
    });
  } catch (err) {
    // access_denied (the user clicked Deny), state_mismatch, timeout, …: the message never holds a token.
    console.error(`Sign-in failed: ${err instanceof OAuthError ? err.message : err}`);
    process.exitCode = 1;
  }
}
