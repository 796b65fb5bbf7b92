// The Node entry: FileTokenStore on a real file system, and loopbackLogin against a real server with a
// fake "browser" that signs in over HTTP and follows the final redirect to the loopback listener.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { tmpDir } from '../../server/test/helpers.ts';
import { OAuthClient, OAuthError, type StoredTokens, TokenManager } from '../src/index.ts';
import { FileTokenStore, loopbackLogin } from '../src/node.ts';
import {
  authorizeInBrowser,
  newClient,
  newUser,
  startInProcess,
  type TestServer,
  type TestUser,
} from './harness.ts';

const tmp = () => tmpDir('paddock-sdk-');
const mode = (p: string) => fs.statSync(p).mode & 0o777;

describe('FileTokenStore', () => {
  const tokens: StoredTokens = {
    access_token: 'eyJ.access.token',
    refresh_token: 'refresh-1',
    scope: 'iracing.auth',
    access_expires_at: 1_700_000_600_000,
    refresh_expires_at: 1_700_604_800_000,
  };

  test('round trip; clear removes the file; a missing file is no tokens', async () => {
    const file = path.join(tmp(), 'tokens.json');
    const store = new FileTokenStore(file);
    assert.equal(await store.load(), undefined);
    await store.save(tokens);
    assert.deepEqual(await store.load(), tokens);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), tokens);
    assert.deepEqual(await new FileTokenStore(file).load(), tokens, 'another instance reads the same file');
    await store.clear();
    assert.equal(fs.existsSync(file), false);
    assert.equal(await store.load(), undefined);
    await store.clear(); // clearing twice is fine
  });

  test('the file is 0600 and a directory it creates 0700, whatever the umask', async (t) => {
    if (process.platform === 'win32') return t.skip('POSIX modes');
    const dir = path.join(tmp(), 'nested', 'paddock');
    const file = path.join(dir, 'tokens.json');
    const old = process.umask(0);
    try {
      await new FileTokenStore(file).save(tokens);
    } finally {
      process.umask(old);
    }
    assert.equal(mode(file), 0o600);
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(path.dirname(dir)), 0o700);
  });

  test('an existing readable file is replaced by a 0600 one, atomically (a new file renamed over it)', async (t) => {
    if (process.platform === 'win32') return t.skip('POSIX modes');
    const dir = tmp();
    const file = path.join(dir, 'tokens.json');
    fs.writeFileSync(file, '{}', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const before = fs.statSync(file).ino;
    await new FileTokenStore(file).save(tokens);
    assert.equal(mode(file), 0o600);
    assert.notEqual(fs.statSync(file).ino, before, 'a new file took the old one’s place');
    assert.deepEqual(fs.readdirSync(dir), ['tokens.json'], 'no temporary file is left behind');
  });

  test('readers never see a partly written file', async () => {
    const file = path.join(tmp(), 'tokens.json');
    const store = new FileTokenStore(file);
    const big = (i: number): StoredTokens => ({ ...tokens, access_token: `${i}`.padEnd(200_000, 'x') });
    await store.save(big(0));
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const t = await store.load();
        assert.ok(t && t.access_token.length === 200_000, 'a complete record');
        reads++;
        await delay(0);
      }
    })();
    for (let i = 1; i <= 40; i++) await store.save(big(i));
    writing = false;
    await reader;
    assert.ok(reads > 0);
    assert.equal((await store.load())?.access_token.startsWith('40x'), true);
  });

  test('a file that does not hold tokens loads as none', async () => {
    const file = path.join(tmp(), 'tokens.json');
    for (const text of ['', 'not json', '{"access_token": 5}', 'null', '[]']) {
      fs.writeFileSync(file, text);
      assert.equal(await new FileTokenStore(file).load(), undefined, text);
    }
  });

  test('works as the store of a TokenManager', async () => {
    const file = path.join(tmp(), 'tokens.json');
    const manager = new TokenManager({
      client: {
        refresh: async () => assert.fail('no refresh'),
        passwordLimited: async () => assert.fail('no login'),
      },
      store: new FileTokenStore(file),
    });
    await manager.setTokens({
      access_token: 'a1',
      token_type: 'Bearer',
      expires_in: 600,
      refresh_token: 'r1',
    });
    const reread = new TokenManager({
      client: {
        refresh: async () => assert.fail('no refresh'),
        passwordLimited: async () => assert.fail('no login'),
      },
      store: new FileTokenStore(file),
    });
    assert.equal(await reread.getAccessToken(), 'a1');
  });
});

describe('loopbackLogin', () => {
  let server: TestServer;
  let user: TestUser;
  let clientId: string;
  let clientId6: string;
  before(async () => {
    server = await startInProcess({ name: 'sdk-loopback' });
    user = await newUser(server.ctx!.store, 'Desktop Driver');
    ({ clientId } = await newClient(server.ctx!.store, {
      client_type: 'public',
      redirect_uris: ['http://127.0.0.1:0/callback'],
    }));
    ({ clientId: clientId6 } = await newClient(server.ctx!.store, {
      client_type: 'public',
      redirect_uris: ['http://[::1]:0/cb/native'],
    }));
  });
  after(() => server.stop());

  async function refused(url: string): Promise<boolean> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve) => {
      const s = net.connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) });
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
  }

  test('signs in through the browser and returns tokens; the listener is closed afterwards', async () => {
    const client = new OAuthClient({ issuer: server.url, clientId });
    let opened = '';
    let page: { status: number; text: string; type: string | null } | undefined;
    const tokens = await loopbackLogin({
      client,
      scope: ['iracing.auth', 'iracing.profile'],
      log: () => assert.fail('nothing to tell the user when the browser opens'),
      openBrowser: async (url) => {
        opened = url;
        const redirect = new URL(url).searchParams.get('redirect_uri')!;
        // A stray request (a favicon) is not the callback and does not end the sign-in.
        const favicon = await fetch(new URL('/favicon.ico', redirect));
        assert.equal(favicon.status, 404);
        const landed = await authorizeInBrowser(server, url, user);
        assert.ok(landed.startsWith(`${redirect}?`), landed);
        const r = await fetch(landed);
        page = { status: r.status, text: await r.text(), type: r.headers.get('content-type') };
      },
    });
    const q = new URL(opened).searchParams;
    assert.equal(opened.split('?')[0], `${server.url}/oauth2/authorize`);
    assert.equal(q.get('client_id'), clientId);
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('state')!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(q.get('scope'), 'iracing.auth iracing.profile');
    const redirect = q.get('redirect_uri')!;
    assert.match(redirect, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    assert.notEqual(new URL(redirect).port, '0');

    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.scope, 'iracing.auth iracing.profile');
    assert.ok(tokens.refresh_token);
    assert.deepEqual(await client.profile(tokens.access_token), {
      iracing_name: 'Desktop Driver',
      iracing_cust_id: user.custId,
    });
    // The browser's request completes before the promise resolves (it is part of the sign-in).
    await delay(10);
    assert.equal(page?.status, 200);
    assert.match(page!.type ?? '', /^text\/html/);
    assert.match(page!.text, /Signed in\. You can close this window\./);
    assert.equal(await refused(redirect), true, 'the listener is closed');
  });

  test('an [::1] redirect URI with its own path listens on IPv6', async () => {
    const client = new OAuthClient({ issuer: server.url, clientId: clientId6 });
    let redirect = '';
    const tokens = await loopbackLogin({
      client,
      redirectUri: 'http://[::1]:0/cb/native',
      openBrowser: async (url) => {
        redirect = new URL(url).searchParams.get('redirect_uri')!;
        // The wrong path on the right port is not the callback.
        assert.equal((await fetch(redirect.replace('/cb/native', '/cb'))).status, 404);
        await fetch(await authorizeInBrowser(server, url, user));
      },
    });
    assert.match(redirect, /^http:\/\/\[::1\]:\d+\/cb\/native$/);
    assert.equal(tokens.token_type, 'Bearer');
  });

  test('a callback with the wrong state is refused: state_mismatch, an error page, listener closed', async () => {
    const client = new OAuthClient({ issuer: server.url, clientId });
    let redirect = '';
    let page: { status: number; text: string } | undefined;
    const login = loopbackLogin({
      client,
      openBrowser: async (url) => {
        redirect = new URL(url).searchParams.get('redirect_uri')!;
        const r = await fetch(`${redirect}?code=forged-code&state=not-the-state`);
        page = { status: r.status, text: await r.text() };
      },
    });
    await assert.rejects(login, (e: unknown) => e instanceof OAuthError && e.error === 'state_mismatch');
    await delay(10);
    assert.equal(page?.status, 400);
    assert.match(page!.text, /Sign-in failed/);
    assert.match(page!.text, /state_mismatch/);
    assert.equal(await refused(redirect), true);
  });

  test("the server's error (the user denied) is thrown as that OAuthError", async () => {
    const denier = await newUser(server.ctx!.store, 'Careful Driver');
    const client = new OAuthClient({ issuer: server.url, clientId });
    const login = loopbackLogin({
      client,
      scope: 'iracing.profile',
      openBrowser: async (url) => {
        await fetch(await authorizeInBrowser(server, url, denier, { decision: 'deny' }));
      },
    });
    await assert.rejects(login, (e: unknown) => e instanceof OAuthError && e.error === 'access_denied');
  });

  test('no callback in time: timeout, and the listener is closed', async () => {
    const client = new OAuthClient({ issuer: server.url, clientId });
    let redirect = '';
    const started = Date.now();
    await assert.rejects(
      loopbackLogin({
        client,
        timeoutMs: 300,
        openBrowser: (url) => {
          redirect = new URL(url).searchParams.get('redirect_uri')!;
        },
      }),
      (e: unknown) => e instanceof OAuthError && e.error === 'timeout',
    );
    assert.ok(Date.now() - started >= 290);
    assert.equal(await refused(redirect), true);
  });

  test('when the browser cannot be opened, the address is given to the user through log', async () => {
    const client = new OAuthClient({ issuer: server.url, clientId });
    const lines: string[] = [];
    await assert.rejects(
      loopbackLogin({
        client,
        timeoutMs: 200,
        log: (line) => lines.push(line),
        openBrowser: async () => {
          throw new Error('no display');
        },
      }),
      (e: unknown) => e instanceof OAuthError && e.error === 'timeout',
    );
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, new RegExp(`${server.url}/oauth2/authorize\\?client_id=`));
  });

  test('the default opener runs xdg-open detached; when it fails, the address is logged', async (t) => {
    if (process.platform !== 'linux') return t.skip('xdg-open is the Linux opener');
    const bin = tmp();
    const seen = path.join(bin, 'seen.txt');
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}${path.delimiter}${oldPath}`;
    try {
      // An xdg-open that records its argument and succeeds: the test then plays the browser.
      fs.writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${seen}'\n`, {
        mode: 0o755,
      });
      const client = new OAuthClient({ issuer: server.url, clientId });
      const login = loopbackLogin({ client, log: () => assert.fail('the opener worked') });
      let url = '';
      for (let i = 0; i < 200 && !url; i++) {
        await delay(25);
        if (fs.existsSync(seen)) url = fs.readFileSync(seen, 'utf8');
      }
      assert.ok(url.startsWith(`${server.url}/oauth2/authorize?`), url);
      await fetch(await authorizeInBrowser(server, url, user));
      assert.equal((await login).token_type, 'Bearer');

      // An xdg-open that finds no browser (exit 3): the address goes to log.
      fs.writeFileSync(path.join(bin, 'xdg-open'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
      const lines: string[] = [];
      await assert.rejects(
        loopbackLogin({ client, timeoutMs: 500, log: (line) => lines.push(line) }),
        (e: unknown) => e instanceof OAuthError && e.error === 'timeout',
      );
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /oauth2\/authorize\?client_id=/);
    } finally {
      process.env.PATH = oldPath;
    }
  });

  test('an AbortSignal cancels the sign-in', async () => {
    const client = new OAuthClient({ issuer: server.url, clientId });
    const controller = new AbortController();
    let redirect = '';
    const login = loopbackLogin({
      client,
      signal: controller.signal,
      openBrowser: (url) => {
        redirect = new URL(url).searchParams.get('redirect_uri')!;
        setTimeout(() => controller.abort(), 20);
      },
    });
    await assert.rejects(login, (e: unknown) => e instanceof OAuthError && e.error === 'aborted');
    assert.equal(await refused(redirect), true);
  });

  test('a redirect URI that is not a loopback one is refused before anything starts', async () => {
    const client = new OAuthClient({ issuer: server.url, clientId });
    for (const redirectUri of [
      'http://localhost:0/callback',
      'https://127.0.0.1:0/callback',
      'http://127.0.0.1/callback',
      'http://127.0.0.1:0',
      'http://127.0.0.1:0/callback#x',
    ]) {
      await assert.rejects(
        loopbackLogin({ client, redirectUri, openBrowser: () => assert.fail('not opened') }),
        TypeError,
        redirectUri,
      );
    }
  });
});
