// The developer portal in real Chromium: a developer signs in through the account page, registers a public
// client with the native loopback redirect URI and completes a code flow with PKCE on an ephemeral port;
// registers a confidential client, sees its secret once (a reload does not show it) and uses it at
// /oauth2/token; screenshots of the list, the registration form and the secret page (desktop, mobile).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { mask } from '../src/oauth/masking.ts';
import { launchChromium, SCREENSHOT_DEVICES, chromiumSkip as skip } from './chromium.ts';
import { fillPassword, signInOnAccountPage } from './chromium-flow.ts';
import { pkcePair } from './code-flow.ts';
import { headlessOf, login } from './fixtures.ts';
import { newUser, type TestUser } from './flow.ts';
import { noteSecret, OUTPUT, post, startInProcess, type TestServer } from './helpers.ts';

const SCREENSHOTS = path.join(OUTPUT, 'screenshots');
const TIMEOUT = 15_000;
let browser: Browser;
let server: TestServer;
let appServer: http.Server;
let appPort = 0;
let seq = 0;
const uniqueId = (p: string) => `${p}-${process.pid}-${++seq}`;

async function newPage(t: { after(fn: () => Promise<void>): void }, opts: BrowserContextOptions = {}) {
  const context = await browser.newContext(opts);
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  t.after(() => context.close());
  return context.newPage();
}

async function developer(): Promise<TestUser> {
  const user = await newUser(server.ctx!.store, 'Dana Developer');
  await server.ctx!.store.developer.setDeveloper(user.userId, true, 0);
  return user;
}

/** Opens the portal: the account page's sign-in first, which comes back to the portal. */
async function openPortal(page: Page, user: TestUser) {
  await page.goto(`${server.url}/oauth2/developer`);
  assert.equal(new URL(page.url()).pathname, '/oauth2/account/login');
  await fillPassword(page, user);
  await page.getByRole('heading', { name: 'Your clients' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/oauth2/developer');
}

async function registerInPage(
  page: Page,
  c: { id: string; name: string; type: 'Public' | 'Confidential'; redirect: string },
  beforeSubmit?: () => Promise<void>,
) {
  await page.getByRole('link', { name: 'Register a client' }).click();
  await page.getByRole('heading', { name: 'Register a client' }).waitFor();
  await page.getByLabel('client_id').fill(c.id);
  await page.getByRole('radio', { name: new RegExp(`^${c.type}:`) }).check();
  await page.getByLabel('Name users see').fill(c.name);
  await page.getByLabel('Redirect URIs').fill(c.redirect);
  await beforeSubmit?.();
  await page.getByRole('button', { name: 'Register', exact: true }).click();
}

/** A code flow with PKCE on an ephemeral loopback port; returns the token endpoint's answer. */
async function codeFlow(page: Page, clientId: string, clientSecret?: string) {
  const { verifier, challenge } = pkcePair();
  const redirectUri = `http://127.0.0.1:${appPort}/callback`;
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'iracing.profile',
  });
  await page.goto(`${server.url}/oauth2/authorize?${q}`);
  // The browser is signed in already (the portal's sign-in); consent is asked unless given before.
  if (new URL(page.url()).pathname === '/oauth2/consent') {
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
  }
  assert.ok(page.url().startsWith(redirectUri), page.url());
  const code = new URL(page.url()).searchParams.get('code')!;
  noteSecret(code);
  return post(`${server.url}/oauth2/token`, {
    grant_type: 'authorization_code',
    client_id: clientId,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    ...(clientSecret ? { client_secret: clientSecret } : {}),
  });
}

/** Invites a user by email on the client's page; returns the invitation's row. */
async function invite(page: Page, email: string) {
  const access = page.getByRole('region', { name: 'Access list' });
  await access.getByLabel('Email address').fill(email);
  await access.getByRole('button', { name: 'Invite' }).click();
  await page.getByText(`Invited ${email}`).waitFor();
  return access.getByRole('list', { name: 'Invitations' }).getByRole('listitem').filter({ hasText: email });
}

describe('developer portal in Chromium', { skip }, () => {
  before(async () => {
    browser = await launchChromium();
    appServer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>native app</title><p>You can close this window.');
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    appPort = (appServer.address() as AddressInfo).port;
    server = await startInProcess({
      name: 'developer-portal-browser',
      env: { PADDOCK_SELF_SERVICE: 'on', PADDOCK_SELF_SERVICE_AUDIENCES: 'data-server' },
    });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => {
      appServer?.close(r);
      appServer?.closeAllConnections();
    });
    await server?.stop();
  });

  test('a public client with http://127.0.0.1:0/callback completes a code flow with PKCE', async (t) => {
    const page = await newPage(t);
    await openPortal(page, await developer());
    const id = uniqueId('native-app');
    await registerInPage(page, {
      id,
      name: 'Native App',
      type: 'Public',
      redirect: 'http://127.0.0.1:0/callback',
    });
    await page.getByRole('heading', { name: 'Native App' }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/oauth2/developer/clients/${id}`);
    assert.equal(await page.locator('#secret').count(), 0, 'a public client has no Secret section');
    const tokens = await codeFlow(page, id);
    assert.equal(tokens.status, 200, tokens.text);
    assert.ok(tokens.body.access_token);
    noteSecret(tokens.body.access_token, tokens.body.refresh_token);
  });

  test('a confidential client: the secret is shown once, a reload does not show it, and it works', async (t) => {
    const page = await newPage(t);
    await openPortal(page, await developer());
    const id = uniqueId('web-app');
    await registerInPage(page, {
      id,
      name: 'Web App',
      type: 'Confidential',
      redirect: 'http://127.0.0.1:0/callback',
    });
    await page.getByRole('heading', { name: 'Client secret of Web App' }).waitFor();
    const secret = (await page.locator('#client-secret').textContent())!.trim();
    noteSecret(secret);
    assert.ok(secret.length >= 40);
    const masked = (await page.locator('#masked-secret').textContent())!.trim();
    assert.equal(masked, mask(secret, id));
    assert.match(
      (await page.locator('#curl').textContent())!,
      new RegExp(`client_secret=${masked.replace(/[+/=]/g, '\\$&')}`),
    );

    await page.reload();
    await page.getByText('The secret was shown once').waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the reload shows the secret again');
    assert.equal(await page.locator('#client-secret').count(), 0);

    const wrong = await codeFlow(page, id, mask(`${secret}x`, id));
    assert.equal(wrong.status, 403, wrong.text);
    const tokens = await codeFlow(page, id, masked);
    assert.equal(tokens.status, 200, tokens.text);
    noteSecret(tokens.body.access_token, tokens.body.refresh_token);
  });

  test('password_limited: an invited user approves on their account page, then the grant works for them', async (t) => {
    const page = await newPage(t);
    await openPortal(page, await developer());
    const id = uniqueId('pit-board');
    await registerInPage(
      page,
      { id, name: 'Pit Board', type: 'Confidential', redirect: 'https://pit.example/cb' },
      () => page.getByLabel('password_limited').check(),
    );
    await page.getByRole('heading', { name: 'Client secret of Pit Board' }).waitFor();
    const secret = (await page.locator('#client-secret').textContent())!.trim();
    noteSecret(secret);
    await page.getByRole('link', { name: 'Go to the client' }).click();

    const driver = await newUser(server.ctx!.store, 'Sam Driver');
    const grant = headlessOf({ clientId: id, secret }, driver);
    const row = await invite(page, driver.username);
    assert.match((await row.textContent()) ?? '', /pending · expires \d{4}-\d\d-\d\d/);
    const before = await login(server, grant);
    assert.equal(before.status, 401, before.text);
    assert.equal(before.body.error, 'access_denied', 'refused before the user approves');

    // The invited user, in a browser of their own, approves on their account page.
    const theirs = await newPage(t);
    await signInOnAccountPage(theirs, server, driver);
    const invitation = theirs
      .getByRole('region', { name: 'Invitations' })
      .getByRole('listitem')
      .filter({ hasText: 'Pit Board' });
    await invitation.getByRole('button', { name: 'Approve' }).click();
    await theirs.getByText('Pit Board may now sign you in').waitFor();

    const after = await login(server, grant);
    assert.equal(after.status, 200, after.text);
    assert.ok(after.body.access_token);
    await page.reload();
    assert.match((await row.textContent()) ?? '', /approved/);
    const onList = page
      .getByRole('region', { name: 'Access list' })
      .getByRole('list', { name: 'On the list' });
    assert.match((await onList.textContent()) ?? '', new RegExp(driver.username));
  });

  test('screenshots of the list, the registration form and the secret page (desktop, mobile)', async (t) => {
    for (const [name, options, pngWidth] of SCREENSHOT_DEVICES) {
      const page = await newPage(t, options);
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      await openPortal(page, await developer());
      const files: string[] = [];
      const shot = async (what: string) => {
        const file = path.join(SCREENSHOTS, `developer-${what}-${name}.png`);
        await page.screenshot({ path: file, fullPage: true });
        files.push(file);
      };
      await registerInPage(
        page,
        {
          id: uniqueId('shot'),
          name: 'Telemetry Uploader',
          type: 'Confidential',
          redirect: 'https://telemetry.example/callback',
        },
        async () => {
          await page.getByLabel('password_limited').check();
          await page.getByLabel('data-server').check();
          await page.getByLabel('Developer name').fill('Pit Wall Software');
          await shot('register');
        },
      );
      await page.getByRole('heading', { name: /Client secret/ }).waitFor();
      await shot('secret');
      await page.getByRole('link', { name: 'Go to the client' }).click();
      // The client's page with an invitation on its access list and a rotation's overlap running.
      await invite(page, (await newUser(server.ctx!.store, 'Sam Driver')).username);
      await page.getByRole('button', { name: 'Rotate the secret' }).click();
      await page.getByText('The previous secret keeps working until').waitFor();
      await page.getByRole('link', { name: 'Go to the client' }).click();
      await page.getByText('The previous secret works until').waitFor();
      await shot('client');
      await page.goto(`${server.url}/oauth2/developer`);
      await page.getByRole('heading', { name: 'Your clients' }).waitFor();
      await shot('list');
      assert.deepEqual(problems, [], `${name}: the pages logged problems`);
      for (const f of files) {
        const png = fs.readFileSync(f);
        assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
        assert.equal(png.readUInt32BE(16), pngWidth, `${f} is ${pngWidth} pixels wide`);
      }
    }
  });
});
