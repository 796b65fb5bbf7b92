// The browser half of the authorization code flow, for tests whose subject is what comes after it: opens
// /authorize in a cookie-jar browser and answers whatever sign-in and consent pages it asks for.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { noteSecret, type TestServer } from './helpers.ts';
import { type Browser, hidden, type Page } from './http-browser.ts';

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  noteSecret(verifier);
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function submit(
  b: Browser,
  server: TestServer,
  page: Page,
  path: string,
  fields: Record<string, string>,
) {
  assert.equal(page.status, 200, page.text);
  const form = {
    request_id: hidden(page.text, 'request_id'),
    csrf_token: hidden(page.text, 'csrf_token'),
    ...fields,
  };
  noteSecret(form.csrf_token);
  return b.open(`${server.url}/oauth2/${path}`, { form });
}

/** Runs /authorize through sign-in and consent (allowing) as needed; returns the code sent to the app. */
export async function authorizeToCode(
  server: TestServer,
  b: Browser,
  user: { username: string; password: string },
  params: Record<string, string>,
): Promise<string> {
  let page = await b.open(`${server.url}/oauth2/authorize?${new URLSearchParams(params)}`);
  const at = (path: string) => page.location?.startsWith(`${server.url}/oauth2/${path}?`);
  if (at('login')) {
    const form = await b.open(page.location!);
    page = await submit(b, server, form, 'login', { email: user.username, password: user.password });
  }
  if (at('consent'))
    page = await submit(b, server, await b.open(page.location!), 'consent', { decision: 'allow' });
  assert.ok([302, 303].includes(page.status), `${page.status} ${page.text}`);
  assert.ok(page.rawLocation?.startsWith(`${params.redirect_uri}?`), `Location ${page.rawLocation}`);
  const code = new URL(page.rawLocation!).searchParams.get('code');
  assert.ok(code, page.rawLocation!);
  noteSecret(code);
  return code;
}

/**
 * A public client's code (PKCE S256, scope iracing.profile) through /authorize, with the /token form that
 * exchanges it.
 */
export async function publicClientCode(
  server: TestServer,
  b: Browser,
  user: { username: string; password: string },
  clientId: string,
  redirectUri: string,
): Promise<{ code: string; verifier: string; form: Record<string, string> }> {
  const p = pkcePair();
  const code = await authorizeToCode(server, b, user, {
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    code_challenge: p.challenge,
    code_challenge_method: 'S256',
    scope: 'iracing.profile',
  });
  const form = {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    redirect_uri: redirectUri,
    code_verifier: p.verifier,
  };
  return { code, verifier: p.verifier, form };
}
