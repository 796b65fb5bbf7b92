/**
 * @paddock/client/node: the Node-only parts of the SDK.
 * - FileTokenStore: a TokenStore in a JSON file only its owner can read, replaced atomically.
 * - loopbackLogin: the book's native-application sign-in (a listener on a loopback port, the system
 *   browser, PKCE S256 and state), for desktop and command-line apps.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { generateState, parseCallback } from './authorize.ts';
import type { OAuthClient } from './client.ts';
import { OAuthError } from './errors.ts';
import { codeChallengeS256, generateCodeVerifier } from './pkce.ts';
import type { TokenSet } from './responses.ts';
import type { StoredTokens, TokenStore } from './token-manager.ts';

// ---- FileTokenStore

/**
 * Keeps tokens in a JSON file. The file is created with mode 0600 (its directory, when created, 0700)
 * and replaced atomically: written to a temporary file in the same directory, flushed, then renamed over
 * the old one, so a crash leaves either the old tokens or the new ones, never half a file.
 * A file that is missing or does not hold tokens loads as no tokens.
 */
export class FileTokenStore implements TokenStore {
  readonly path: string;

  constructor(file: string) {
    this.path = path.resolve(file);
  }

  async load(): Promise<StoredTokens | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const t = JSON.parse(text);
      if (typeof t?.access_token === 'string' && typeof t.access_expires_at === 'number') return t;
    } catch {}
    return undefined;
  }

  async save(tokens: StoredTokens): Promise<void> {
    const dir = path.dirname(this.path);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(
      dir,
      `.${path.basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    try {
      const file = await fs.open(tmp, 'wx', 0o600);
      try {
        await file.chmod(0o600); // whatever the umask
        await file.writeFile(`${JSON.stringify(tokens, null, 2)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      await fs.rename(tmp, this.path);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await syncDirectory(dir);
  }

  async clear(): Promise<void> {
    await fs.rm(this.path, { force: true });
  }
}

/** Makes a rename durable where the platform allows it (not on Windows). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

// ---- loopbackLogin

export interface LoopbackLoginOptions {
  client: Pick<OAuthClient, 'authorizeUrl' | 'exchangeCode'>;
  /**
   * The registered loopback redirect URI: http://127.0.0.1 or http://[::1], port 0 (any free port is
   * used and put in its place) or a fixed port, and a path. Default `http://127.0.0.1:0/callback`.
   */
  redirectUri?: string;
  scope?: string | string[];
  /** Passed on to /authorize (e.g. `verify`). */
  prompt?: string;
  /** Opens the sign-in page. Default: the system browser (`open`, `xdg-open`, or the Windows URL handler). */
  openBrowser?: (url: string) => void | Promise<void>;
  /** How long to wait for the browser to come back. Default 300 000 (five minutes). */
  timeoutMs?: number;
  /** Where to tell the user the address when no browser could be opened. Default console.error. */
  log?: (line: string) => void;
  /** Cancels the sign-in. */
  signal?: AbortSignal;
}

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\]):(\d{1,5})(\/[^?#]*)(\?[^#]*)?$/;

/**
 * Signs a user in from a desktop or command-line app: listens on a loopback port, sends the system
 * browser to /authorize (PKCE S256 and a fresh state), waits for the callback on the redirect URI's exact
 * path, checks its state, shows the browser a short page, closes the listener and trades the code for
 * tokens. Rejects with an OAuthError: the server's error, `state_mismatch`, `timeout`, or `aborted`.
 */
export async function loopbackLogin(options: LoopbackLoginOptions): Promise<TokenSet> {
  const registered = options.redirectUri ?? 'http://127.0.0.1:0/callback';
  const m = LOOPBACK.exec(registered);
  if (!m || Number(m[2]) > 65535) {
    throw new TypeError(
      `redirectUri "${registered}" is not a loopback redirect URI such as http://127.0.0.1:0/callback`,
    );
  }
  const [, host = '', fixedPort = '0', callbackPath = '/', query = ''] = m;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const log = options.log ?? ((line: string) => console.error(line));
  const { signal } = options;
  if (signal?.aborted) throw aborted(signal);

  const verifier = generateCodeVerifier();
  const codeChallenge = await codeChallengeS256(verifier);
  const state = generateState();

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(fixedPort), host === '[::1]' ? '::1' : '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const redirectUri = `http://${host}:${port}${callbackPath}${query}`;

  const code = await new Promise<string>((resolve, reject) => {
    let done = false;
    const finish = (err: unknown, value?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      server.close();
      if (err) reject(err);
      else resolve(value!);
    };
    const stop = (err: OAuthError) => {
      finish(err);
      server.closeAllConnections();
    };
    const timer = setTimeout(
      () =>
        stop(
          new OAuthError('timeout', {
            description: `the browser did not come back to ${redirectUri} within ${Math.round(timeoutMs / 1000)} s`,
          }),
        ),
      timeoutMs,
    );
    const onAbort = () => stop(aborted(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });

    server.on('request', (req, res) => {
      res.setHeader('Connection', 'close');
      const target = req.url ?? '/';
      const q = target.indexOf('?');
      const requestPath = q === -1 ? target : target.slice(0, q);
      if (done || req.method !== 'GET' || requestPath !== callbackPath) {
        page(res, 404, 'Not found', 'This is not the sign-in callback.');
        return;
      }
      let code: string;
      try {
        code = parseCallback(new URL(target, `http://${host}:${port}`), state).code;
      } catch (err) {
        const e = err as OAuthError;
        page(res, 400, 'Sign-in failed', `${e.error}${e.description ? `: ${e.description}` : ''}`, () =>
          server.closeAllConnections(),
        );
        finish(err);
        return;
      }
      page(res, 200, 'Signed in', 'Signed in. You can close this window.', () =>
        server.closeAllConnections(),
      );
      finish(undefined, code);
    });

    const url = options.client.authorizeUrl({
      redirectUri,
      state,
      codeChallenge,
      codeChallengeMethod: 'S256',
      ...(options.scope !== undefined && { scope: options.scope }),
      ...(options.prompt !== undefined && { prompt: options.prompt }),
    });
    let told = false;
    const tellUser = () => {
      if (told || done) return;
      told = true;
      log(`Open this address in a browser to sign in:\n${url}`);
    };
    const open = options.openBrowser ?? ((u: string) => openSystemBrowser(u, tellUser));
    try {
      Promise.resolve(open(url)).catch(tellUser);
    } catch {
      tellUser();
    }
  });

  return options.client.exchangeCode({ code, redirectUri, codeVerifier: verifier });
}

function aborted(signal: AbortSignal): OAuthError {
  return new OAuthError('aborted', { description: 'the sign-in was cancelled', cause: signal.reason });
}

/** Starts the platform's URL opener, detached; `onFail` runs if it cannot be started or reports failure. */
function openSystemBrowser(url: string, onFail: () => void): Promise<void> {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? // The URL handler takes the address as one argument; `start` would go through cmd.exe's parsing.
          ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) onFail();
    });
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function page(res: ServerResponse, status: number, title: string, message: string, done?: () => void): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>
`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(html, done);
}

export type { StoredTokens, TokenStore } from './token-manager.ts';
