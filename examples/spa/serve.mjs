// A tiny static server for the single-page app (node:http, 127.0.0.1 only). It serves:
//   /, /callback     index.html (the app handles both: the callback is its redirect URI)
//   /app.mjs         the app
//   /config.json     { issuer, clientId, redirectUri, scope } for the app
//   /sdk/*.js        @paddock/client's build (packages/client/dist), which the import map maps
//                    "@paddock/client" to
//   /jose/**.js      jose's browser build (the SDK's one dependency; its exports map sends "." to
//                    dist/webapi/index.js, plain ESM over WebCrypto with relative imports only)
// A real app would bundle instead; this keeps the example free of build tools.
//
//   node examples/spa/serve.mjs                # then open http://127.0.0.1:8082/
//
// Environment:
//   PADDOCK_ISSUER     the authorization server                     (default http://127.0.0.1:8080)
//   PADDOCK_CLIENT_ID  a public client whose redirect URIs include http://127.0.0.1:<port>/callback,
//                      or http://127.0.0.1:0/callback, which admits any port  (default demo-spa)
//   PADDOCK_SCOPE      the scopes to ask for                        (default iracing.profile)
//   SPA_PORT           the port to serve on                         (default 8082)
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULTS = {
  issuer: 'http://127.0.0.1:8080',
  clientId: 'demo-spa',
  scope: 'iracing.profile',
  port: 8082,
};

const HERE = path.dirname(fileURLToPath(import.meta.url));
// Where the two packages' browser files are, found the way Node resolves the same imports.
const SDK_DIR = path.dirname(fileURLToPath(import.meta.resolve('@paddock/client')));
const JOSE_DIR = path.dirname(fileURLToPath(import.meta.resolve('jose')));

/** Content-Security-Policy source expressions for the page's inline import map, by hash. */
function importMapHashes(html) {
  return [...html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map(
    ([, body]) => `'sha256-${createHash('sha256').update(body).digest('base64')}'`,
  );
}

/** The file for `rel` under `dir`, or undefined when it would be outside it or is not a .js file. */
function inside(dir, rel) {
  const file = path.resolve(dir, rel);
  return file.startsWith(dir + path.sep) && file.endsWith('.js') ? file : undefined;
}

/**
 * Starts the server. Options: port (0 for any free port), issuer, clientId, scope.
 * Returns { url, redirectUri, close() }.
 */
export async function start(options = {}) {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...DEFAULTS, ...given };
  const issuerOrigin = new URL(o.issuer).origin;
  const page = await fs.readFile(path.join(HERE, 'index.html'), 'utf8');
  const csp = [
    "default-src 'none'",
    `script-src 'self' ${importMapHashes(page).join(' ')}`,
    // /config.json here; /token and /iracing/profile at the issuer.
    `connect-src 'self' ${issuerOrigin}`,
    "style-src 'unsafe-inline'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  let config; // set once the port is known

  const server = http.createServer(async (req, res) => {
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const notFound = () => send(404, 'text/plain; charset=utf-8', 'not found\n');
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'GET only\n');
      // The app must run on the origin of its redirect URI: sessionStorage (the PKCE verifier) and the
      // origin the authorization server allows are both per origin. Send http://localhost:… there too.
      const origin = new URL(config.redirectUri).origin;
      if (req.headers.host !== new URL(origin).host) {
        return send(302, 'text/plain', 'moved\n', { location: `${origin}${req.url}` });
      }
      const { pathname } = new URL(req.url ?? '/', origin);
      if (pathname === '/' || pathname === new URL(config.redirectUri).pathname) {
        return send(200, 'text/html; charset=utf-8', page, { 'content-security-policy': csp });
      }
      if (pathname === '/config.json') return send(200, 'application/json', JSON.stringify(config));
      if (pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
      let file;
      if (pathname === '/app.mjs') file = path.join(HERE, 'app.mjs');
      // The SDK's dist is flat; node.js (FileTokenStore, loopbackLogin) is Node only and not imported.
      else if (pathname.startsWith('/sdk/')) file = inside(SDK_DIR, pathname.slice('/sdk/'.length));
      else if (pathname.startsWith('/jose/')) file = inside(JOSE_DIR, pathname.slice('/jose/'.length));
      if (!file) return notFound();
      let body;
      try {
        body = await fs.readFile(file);
      } catch {
        return notFound();
      }
      return send(200, 'text/javascript; charset=utf-8', body);
    } catch {
      if (!res.headersSent) send(500, 'text/plain', 'error\n');
      else res.destroy();
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const url = `http://127.0.0.1:${port}`;
  config = { issuer: o.issuer, clientId: o.clientId, redirectUri: `${url}/callback`, scope: o.scope };
  return {
    url,
    redirectUri: config.redirectUri,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// Run directly (`node serve.mjs`), not imported.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = process.env;
  const server = await start({
    issuer: env.PADDOCK_ISSUER || undefined,
    clientId: env.PADDOCK_CLIENT_ID || undefined,
    scope: env.PADDOCK_SCOPE || undefined,
    port: env.SPA_PORT ? Number(env.SPA_PORT) : undefined,
  });
  console.error(`The single-page app is on ${server.url}/ (redirect URI ${server.redirectUri})`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close());
}
