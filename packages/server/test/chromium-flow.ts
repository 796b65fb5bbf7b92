// The authorization code flow in Chromium, as a person goes through it: the app a code goes back to (a
// local page on an ephemeral port), /authorize answered page by page (sign-in, code, consent), and the
// code exchanged at /oauth2/token.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { pkcePair } from './code-flow.ts';
import type { TestUser } from './flow.ts';
import { noteSecret, post, type TestServer } from './helpers.ts';

export const pathOf = (page: Page) => new URL(page.url()).pathname;

/** A local page standing in for the app: every path answers 200. */
export async function startApp(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>app</title><p>app');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export async function fillPassword(page: Page, user: { username: string; password: string }) {
  await page.getByLabel('Email').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in on the account page's own sign-in, in this page; waits for the account page. */
export async function signInOnAccountPage(page: Page, server: TestServer, user: TestUser) {
  await page.goto(`${server.url}/oauth2/account`);
  await fillPassword(page, user);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
}

export interface Outcome {
  askedPassword: boolean;
  askedCode: boolean;
  code: string;
  verifier: string;
}

export interface AuthorizeOptions {
  server: TestServer;
  clientId: string;
  redirectUri: string;
  user: TestUser;
  /** The next TOTP code, for a user with two-factor sign-in. */
  nextCode?: () => string;
  prompt?: string;
  remember?: boolean;
  beforeCode?: (p: Page) => Promise<void>;
}

/** Runs /authorize in this page, answering the sign-in, code and consent pages, until the app. */
export async function authorizeInChromium(page: Page, o: AuthorizeOptions): Promise<Outcome> {
  const { verifier, challenge } = pkcePair();
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: o.clientId,
    redirect_uri: o.redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(o.prompt && { prompt: o.prompt }),
  });
  await page.goto(`${o.server.url}/oauth2/authorize?${q}`);
  const out = { askedPassword: false, askedCode: false, verifier, code: '' };
  for (let hop = 0; hop < 4 && !page.url().startsWith(o.redirectUri); hop++) {
    const at = pathOf(page);
    const before = page.url();
    if (at === '/oauth2/login') {
      out.askedPassword = true;
      await fillPassword(page, o.user);
    } else if (at === '/oauth2/login/code') {
      assert.ok(o.nextCode, 'a code page for a user without codes');
      out.askedCode = true;
      await o.beforeCode?.(page);
      if (o.remember) await page.getByLabel('Remember this browser for 30 days').check();
      await page.getByLabel('Authentication code').fill(o.nextCode());
      await page.getByRole('button', { name: 'Verify' }).click();
    } else if (at === '/oauth2/consent') {
      await page.getByRole('button', { name: 'Allow' }).click();
    } else assert.fail(`unexpected page ${page.url()} after ${before}`);
    await page.waitForURL((u) => u.href !== before);
  }
  assert.ok(page.url().startsWith(o.redirectUri), `ended at ${page.url()}`);
  out.code = new URL(page.url()).searchParams.get('code')!;
  noteSecret(out.code);
  return out;
}

/** Exchanges the code of a flow for tokens (a confidential client); asserts it worked. */
export async function exchangeCode(
  server: TestServer,
  client: { clientId: string; maskedSecret?: string },
  redirectUri: string,
  out: Outcome,
): Promise<{ access_token: string; refresh_token: string }> {
  const r = await post(`${server.url}/oauth2/token`, {
    grant_type: 'authorization_code',
    client_id: client.clientId,
    client_secret: client.maskedSecret!,
    code: out.code,
    redirect_uri: redirectUri,
    code_verifier: out.verifier,
  });
  assert.equal(r.status, 200, r.text);
  noteSecret(r.body.access_token, r.body.refresh_token);
  return r.body;
}

/** A refresh at /oauth2/token: the status and the body. */
export async function refreshAt(
  server: TestServer,
  client: { clientId: string; maskedSecret?: string },
  refreshToken: string,
) {
  const r = await post(`${server.url}/oauth2/token`, {
    grant_type: 'refresh_token',
    client_id: client.clientId,
    client_secret: client.maskedSecret!,
    refresh_token: refreshToken,
  });
  if (r.status === 200) noteSecret(r.body.access_token, r.body.refresh_token);
  return r;
}
