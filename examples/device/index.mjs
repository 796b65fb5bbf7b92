// A program that runs where no browser can (an overlay inside the sim, a headset, a rig's dashboard)
// and signs its user in with the Device Authorization Grant (RFC 8628), then shows who they are.
//
// The program is a public client registered with the grant urn:ietf:params:oauth:grant-type:device_code
// (and refresh_token, if it should keep the user signed in). deviceLogin from @paddock/client:
//   1. asks /oauth2/device_authorization for a device code and a short user code;
//   2. shows the user code and the address to open on a phone or computer (onCode; here on stderr);
//   3. polls /oauth2/token every few seconds, slower when the server says slow_down, until the user has
//      signed in there and allowed (or denied) the program.
// The user types their password on the server's own page, on their own device, never into this program.
//
//   npx paddock clients add --name "Rig dashboard" --type public \
//     --grant urn:ietf:params:oauth:grant-type:device_code --grant refresh_token
//   PADDOCK_CLIENT_ID=<its client_id> node examples/device/index.mjs
//
// Environment:
//   PADDOCK_ISSUER     the authorization server                         (default http://127.0.0.1:8080)
//   PADDOCK_CLIENT_ID  a client registered for the device_code grant    (required)
//   PADDOCK_SCOPE      the scopes to ask for                            (default iracing.profile)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OAuthClient, OAuthError } from '@paddock/client';

export const DEFAULTS = {
  issuer: 'http://127.0.0.1:8080',
  scope: 'iracing.profile',
};

/**
 * Signs the user in on another device and prints their profile through `log`; returns the profile.
 * Options: issuer, clientId, scope, onCode (shows the code; default: deviceLogin's, on stderr), signal,
 * log (default console.log), fetch (for tests and instrumentation).
 */
export async function main(options = {}) {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...DEFAULTS, log: console.log, ...given };
  if (!o.clientId)
    throw new Error('PADDOCK_CLIENT_ID is required: a client registered for the device_code grant');

  // No clientSecret: a program on the user's device cannot keep one.
  const client = new OAuthClient({
    issuer: o.issuer,
    clientId: o.clientId,
    ...(o.fetch && { fetch: o.fetch }),
  });
  const tokens = await client.deviceLogin({
    scope: o.scope,
    ...(o.onCode && { onCode: o.onCode }),
    ...(o.signal && { signal: o.signal }),
  });

  // The access token is used once and forgotten with this process; it is never printed.
  const profile = await client.profile(tokens.access_token);
  o.log(`Signed in as ${profile.iracing_name} (customer ID ${profile.iracing_cust_id})`);
  return profile;
}

// Run directly (`node index.mjs`), not imported.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = process.env;
  // Ctrl-C stops the polling cleanly.
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort(new Error('cancelled')));
  try {
    await main({
      issuer: env.PADDOCK_ISSUER || undefined,
      clientId: env.PADDOCK_CLIENT_ID || undefined,
      scope: env.PADDOCK_SCOPE || undefined,
      signal: stop.signal,
    });
  } catch (err) {
    // access_denied (the user pressed Deny), expired_token (nobody entered the code in time), …
    console.error(`Sign-in failed: ${err instanceof OAuthError ? err.message : (err.message ?? err)}`);
    process.exitCode = 1;
  }
}
