// verifyAccessToken: for every step of the book's validation and verification, a token that breaks only
// that rule is rejected with that rule's code; a correct token passes; and a token from a real Paddock
// server verifies end to end.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CompactSign, exportJWK, generateKeyPair, type JWK } from 'jose';
import { headless, login } from '../../server/test/fixtures.ts';
import { startInProcess } from '../../server/test/helpers.ts';
import {
  createVerifier,
  TokenVerificationError,
  type VerifyOptions,
  verifyAccessToken,
} from '../src/verify.ts';

const NOW_S = 1_700_000_000;
const NOW = NOW_S * 1000;
const KID = 'd760990f-62c9-4570-ac99-9e7477363e18';
const ISSUER = 'https://oauth.iracing.com';
const CLIENT = 'example_client';

type Json = Record<string, unknown>;
type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A JWKS server on 127.0.0.1 whose routes a test can change, counting the hits per path. */
class JwksServer {
  routes = new Map<string, Route>();
  hits = new Map<string, number>();
  private server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    const route = this.routes.get(path);
    if (route) route(req, res);
    else res.writeHead(404).end('not found');
  });
  base = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Serves `body` (JSON unless a string) at `path` and returns the full URL. */
  serve(path: string, body: unknown, status = 200): string {
    this.routes.set(path, (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
    return this.url(path);
  }

  url(path: string): string {
    return `${this.base}${path}`;
  }

  count(path: string): number {
    return this.hits.get(path) ?? 0;
  }
}

const enc = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let privateKey: CryptoKey;
let publicJwk: JWK;
let attackerPrivate: CryptoKey;
let attackerJwk: JWK;
let jwks: JwksServer;
let JKU: string;

before(async () => {
  ({ privateKey, publicKey: publicJwk } = await keyPair());
  ({ privateKey: attackerPrivate, publicKey: attackerJwk } = await keyPair());
  jwks = await new JwksServer().start();
  JKU = jwks.serve('/jwks.json', { keys: [{ ...publicJwk, kid: KID, alg: 'EdDSA', use: 'sig' }] });
});

after(() => jwks.stop());

async function keyPair(): Promise<{ privateKey: CryptoKey; publicKey: JWK }> {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  return { privateKey: pair.privateKey, publicKey: await exportJWK(pair.publicKey) };
}

function header(overrides: Json = {}): Json {
  return { kid: KID, alg: 'EdDSA', jku: JKU, ...overrides };
}

/** The book's example payload, valid at NOW_S. */
function claims(overrides: Json = {}): Json {
  return {
    session_id: '51687ec8-34d5-4523-ae26-e9f0462b6e44',
    iss: ISSUER,
    exp: NOW_S + 600,
    aud: [CLIENT, 'oauth-api', 'data-server'],
    sub: 'e8627b85-b178-499d-bb59-888bba14bebd',
    client_id: CLIENT,
    iat: NOW_S - 10,
    jti: 'd760990f-62c9-4570-ac99-9e7477363e18',
    auth_time: NOW_S - 100,
    scope: 'iracing.auth iracing.profile',
    iracing_env: 'members',
    iracing_cust_id: 15535,
    iracing_group_ids: [1, 2, 3, 5, 8, 10],
    ...overrides,
  };
}

/** Signs exactly the given protected header and payload (keys set to undefined are dropped). */
async function sign(h: Json = header(), p: Json = claims(), key: CryptoKey = privateKey): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(p)))
    .setProtectedHeader(JSON.parse(JSON.stringify(h)))
    .sign(key);
}

/** A token crafted by hand, for headers jose would refuse to sign. */
function craft(h: unknown, p: unknown = claims(), signature = 'c2lnbmF0dXJl'): string {
  return `${enc(h)}.${enc(p)}.${signature}`;
}

function options(overrides: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    issuer: ISSUER,
    clientId: CLIENT,
    audience: 'data-server',
    requiredScopes: ['iracing.auth'],
    allowInsecureLoopback: true,
    jkuHostSuffix: '127.0.0.1',
    now: () => NOW,
    ...overrides,
  };
}

/** A fetch that must not be called: the rule under test fails before any network access. */
const noFetch: typeof fetch = async () => {
  throw new Error('fetch must not be called');
};

async function rejects(token: string, code: string, opts: VerifyOptions = options()): Promise<void> {
  await assert.rejects(verifyAccessToken(token, opts), (error: unknown) => {
    assert.ok(error instanceof TokenVerificationError, `expected a TokenVerificationError, got ${error}`);
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    return true;
  });
}

async function passes(token: string, opts: VerifyOptions = options()) {
  return verifyAccessToken(token, opts);
}

describe('a correct token', () => {
  test('passes, returning only the verified header and payload', async () => {
    const result = await passes(await sign());
    assert.deepEqual(Object.keys(result).sort(), ['header', 'payload']);
    assert.deepEqual(result.header, header());
    assert.deepEqual(result.payload, claims());
  });

  test('passes with the minimal options (issuer, and the jku host rule)', async () => {
    await passes(await sign(), {
      issuer: ISSUER,
      jkuHostSuffix: '127.0.0.1',
      allowInsecureLoopback: true,
      now: () => NOW,
    });
  });

  test('passes with header key material present: jwk, x5c and x5u are ignored, never used as the key', async () => {
    const h = header({ jwk: attackerJwk, x5u: 'https://evil.example/x5u', x5c: ['MIIB'] });
    const result = await passes(await sign(h));
    assert.deepEqual(result.header.jwk, attackerJwk);
  });

  test('passes with nullable claims null and optional claims absent', async () => {
    await passes(
      await sign(
        header(),
        claims({ sub: null, iracing_cust_id: null, iracing_group_ids: null, iracing_env: null }),
      ),
    );
    const p = claims();
    for (const k of ['session_id', 'sub', 'jti', 'iracing_env', 'iracing_cust_id', 'iracing_group_ids'])
      delete p[k];
    await passes(await sign(header(), p));
    await passes(await sign(header(), claims({ scope: null })), options({ requiredScopes: [] }));
  });

  test('scopes are whitespace-separated and their order does not matter', async () => {
    const token = await sign(header(), claims({ scope: 'a  iracing.profile\tiracing.auth' }));
    await passes(token, options({ requiredScopes: ['iracing.auth', 'iracing.profile'] }));
  });

  test('aud may be a single string', async () => {
    const p = claims({ aud: 'oauth-api' });
    delete p.client_id;
    await passes(await sign(header(), p), options({ clientId: undefined, audience: undefined }));
  });

  test('iracing_env is checked against the env option', async () => {
    await passes(await sign(header(), claims({ iracing_env: 'test' })), options({ env: 'test' }));
  });
});

describe('1. malformed: not a compact JWS', () => {
  test('wrong number of parts, bad base64url, non-JSON or non-object header and payload', async () => {
    const good = await sign();
    const [h, p, s] = good.split('.') as [string, string, string];
    const cases = [
      '',
      'abc',
      `${h}.${p}`,
      `${good}.${s}`,
      `${h}.${p}.${s}=`,
      `${h}+.${p}.${s}`,
      `${h}.${p.replace(/./, '*')}.${s}`,
      `.${p}.${s}`,
      `${h}..${s}`,
      `${enc('x').slice(0, -1)}.${p}.${s}`,
      `${Buffer.from('{not json').toString('base64url')}.${p}.${s}`,
      `${h}.${Buffer.from('not json').toString('base64url')}.${s}`,
      `${enc([header()])}.${p}.${s}`,
      `${enc(null)}.${p}.${s}`,
      `${h}.${enc([1])}.${s}`,
      `${h}.${enc('a string')}.${s}`,
      `${h}.${Buffer.from([0xff, 0xfe]).toString('base64url')}.${s}`,
    ];
    for (const token of cases) await rejects(token, 'malformed', options({ fetch: noFetch }));
    await rejects(42 as unknown as string, 'malformed');
  });
});

describe('2. kid_missing', () => {
  test('no kid, an empty kid, or a kid that is not a string', async () => {
    for (const kid of [undefined, '', 7, null, ['a']]) {
      await rejects(await sign(header({ kid })), 'kid_missing', options({ fetch: noFetch }));
    }
  });
});

describe('3. alg', () => {
  test('alg_missing: absent, empty, or not a string', async () => {
    for (const alg of [undefined, '', 0, null]) {
      await rejects(craft(header({ alg })), 'alg_missing', options({ fetch: noFetch }));
    }
  });

  test('alg_none: "none" in any case, signed or not', async () => {
    for (const alg of ['none', 'NONE', 'None', 'nOnE']) {
      await rejects(craft(header({ alg }), claims(), ''), 'alg_none', options({ fetch: noFetch }));
      await rejects(craft(header({ alg })), 'alg_none', options({ fetch: noFetch }));
    }
  });

  test('alg_unsupported: anything but EdDSA', async () => {
    for (const alg of ['HS256', 'RS256', 'ES256', 'PS256', 'Ed25519', 'eddsa', 'EDDSA', 'EdDSA ']) {
      await rejects(craft(header({ alg })), 'alg_unsupported', options({ fetch: noFetch }));
    }
  });
});

describe('4. jku', () => {
  const iracing = (jku: unknown) => craft(header({ jku }), claims(), 'c2ln');
  const iracingOptions = (extra: Partial<VerifyOptions> = {}) =>
    options({ jkuHostSuffix: '.iracing.com', allowInsecureLoopback: false, fetch: noFetch, ...extra });

  test('jku_missing: absent, empty, or not a string', async () => {
    for (const jku of [undefined, '', 12, null, { url: JKU }]) {
      await rejects(iracing(jku), 'jku_missing', iracingOptions());
    }
  });

  test('jku_invalid: not a URL', async () => {
    for (const jku of [
      'not a url',
      '/.well-known/jwks.json',
      'oauth.iracing.com/jwks.json',
      'https://',
      'https://oauth.iracing.com/jwks\n.json',
      ' https://oauth.iracing.com/jwks.json',
    ]) {
      await rejects(iracing(jku), 'jku_invalid', iracingOptions());
    }
  });

  test('jku_not_https: http and other schemes; http on loopback only with allowInsecureLoopback', async () => {
    for (const jku of [
      'http://oauth.iracing.com/.well-known/jwks.json',
      'ftp://oauth.iracing.com/.well-known/jwks.json',
      'file:///etc/jwks.json',
      'data:application/json,{"keys":[]}',
      'ws://oauth.iracing.com/jwks.json',
    ]) {
      await rejects(iracing(jku), 'jku_not_https', iracingOptions());
    }
    // Loopback over http: refused by default, and never for another host even when allowed.
    await rejects(await sign(), 'jku_not_https', options({ allowInsecureLoopback: false, fetch: noFetch }));
    await rejects(
      await sign(),
      'jku_not_https',
      options({ allowInsecureLoopback: undefined, fetch: noFetch }),
    );
    for (const jku of [
      'http://10.0.0.1/jwks.json',
      'http://127.0.0.1.nip.io/jwks.json',
      'http://oauth.iracing.com/jwks.json',
    ]) {
      await rejects(iracing(jku), 'jku_not_https', iracingOptions({ allowInsecureLoopback: true }));
    }
  });

  test('jku_userinfo: user, password, or an empty userinfo', async () => {
    for (const jku of [
      'https://user:pw@oauth.iracing.com/.well-known/jwks.json',
      'https://user@oauth.iracing.com/.well-known/jwks.json',
      'https://:pw@oauth.iracing.com/.well-known/jwks.json',
      'https://@oauth.iracing.com/.well-known/jwks.json',
      'https://evil.com@oauth.iracing.com/.well-known/jwks.json',
    ]) {
      await rejects(iracing(jku), 'jku_userinfo', iracingOptions());
    }
  });

  test('jku_query: a query, even an empty one', async () => {
    for (const jku of [
      'https://oauth.iracing.com/.well-known/jwks.json?x=1',
      'https://oauth.iracing.com/.well-known/jwks.json?',
      'https://oauth.iracing.com?x',
    ]) {
      await rejects(iracing(jku), 'jku_query', iracingOptions());
    }
  });

  test('jku_fragment: a fragment, even an empty one', async () => {
    for (const jku of [
      'https://oauth.iracing.com/.well-known/jwks.json#k',
      'https://oauth.iracing.com/.well-known/jwks.json#',
      'https://oauth.iracing.com/.well-known/jwks.json#?x',
    ]) {
      await rejects(iracing(jku), 'jku_fragment', iracingOptions());
    }
  });

  test('jku_host: the host must end with the suffix; evil-iracing.com is not under .iracing.com', async () => {
    for (const jku of [
      'https://evil-iracing.com/.well-known/jwks.json',
      'https://iracing.com.evil.com/.well-known/jwks.json',
      'https://oauth.iracing.com.evil.com/.well-known/jwks.json',
      'https://iracing.com/.well-known/jwks.json',
      'https://oauth.iracing.co/.well-known/jwks.json',
      'https://oauth.iracing.com./.well-known/jwks.json',
      'https://127.0.0.1/.well-known/jwks.json',
    ]) {
      await rejects(iracing(jku), 'jku_host', iracingOptions());
    }
    // A suffix without its leading dot still matches whole labels only.
    await rejects(
      iracing('https://evil-iracing.com/jwks.json'),
      'jku_host',
      iracingOptions({ jkuHostSuffix: 'iracing.com' }),
    );
    // The default: the issuer's host itself, or a subdomain of it.
    const byDefault = iracingOptions({ jkuHostSuffix: undefined });
    for (const jku of [
      'https://iracing.com/jwks.json',
      'https://evil.com/jwks.json',
      'https://xoauth.iracing.com/jwks.json',
    ]) {
      await rejects(iracing(jku), 'jku_host', byDefault);
    }
    // Loopback over http still has to pass the host rule.
    await rejects(iracing('http://localhost:1/jwks.json'), 'jku_host', options({ fetch: noFetch }));
  });

  test('allowed hosts are fetched, compared case-insensitively, with the default derived from the issuer', async () => {
    const fetched: string[] = [];
    const stub: typeof fetch = async (input) => {
      fetched.push(String(input));
      return Response.json({ keys: [{ ...publicJwk, kid: KID }] });
    };
    const allowed: [string, string | undefined][] = [
      ['https://oauth.iracing.com/.well-known/jwks.json', undefined],
      ['https://keys.oauth.iracing.com/.well-known/jwks.json', undefined],
      ['https://OAUTH.IRACING.COM/.well-known/jwks.json', undefined],
      ['https://oauth.iracing.com/.well-known/jwks.json', '.iracing.com'],
      ['https://Keys.IRacing.com:8443/jwks.json', '.IRACING.COM'],
      ['https://iracing.com/jwks.json', 'iracing.com'],
    ];
    for (const [jku, jkuHostSuffix] of allowed) {
      await passes(
        await sign(header({ jku })),
        options({ jkuHostSuffix, fetch: stub, allowInsecureLoopback: false }),
      );
    }
    assert.deepEqual(fetched, [
      'https://oauth.iracing.com/.well-known/jwks.json',
      'https://keys.oauth.iracing.com/.well-known/jwks.json',
      'https://oauth.iracing.com/.well-known/jwks.json',
      'https://oauth.iracing.com/.well-known/jwks.json',
      'https://keys.iracing.com:8443/jwks.json',
      'https://iracing.com/jwks.json',
    ]);
  });

  test('loopback over http: 127.0.0.1, [::1] and localhost with allowInsecureLoopback', async () => {
    const stub: typeof fetch = async () => Response.json({ keys: [{ ...publicJwk, kid: KID }] });
    for (const [jku, jkuHostSuffix] of [
      ['http://127.0.0.1:9/jwks.json', '127.0.0.1'],
      ['http://[::1]:9/jwks.json', '[::1]'],
      ['http://localhost:9/jwks.json', 'localhost'],
    ] as const) {
      await passes(await sign(header({ jku })), options({ jkuHostSuffix, fetch: stub }));
    }
  });
});

describe('5. the JWKS', () => {
  test('is fetched without following redirects and with redirect: "manual"', async () => {
    let init: RequestInit | undefined;
    const stub: typeof fetch = async (_input, i) => {
      init = i;
      return Response.json({ keys: [{ ...publicJwk, kid: KID }] });
    };
    await passes(await sign(), options({ fetch: stub }));
    assert.equal(init?.redirect, 'manual');
    assert.equal(init?.credentials, 'omit');
  });

  test('jwks_redirect: a 302 to a JWKS that has the key is not followed', async () => {
    const target = jwks.serve('/moved.json', { keys: [{ ...publicJwk, kid: KID }] });
    for (const status of [301, 302, 303, 307, 308]) {
      const path = `/redirect-${status}.json`;
      jwks.routes.set(path, (_req, res) => res.writeHead(status, { location: target }).end());
      await rejects(await sign(header({ jku: jwks.url(path) })), 'jwks_redirect');
      assert.equal(jwks.count(path), 1);
    }
    assert.equal(jwks.count('/moved.json'), 0);
  });

  test('jwks_redirect: a browser fetch answers an opaque redirect, or a fetch that followed one', async () => {
    const opaque = {
      type: 'opaqueredirect',
      status: 0,
      redirected: false,
      body: null,
    } as unknown as Response;
    await rejects(await sign(), 'jwks_redirect', options({ fetch: async () => opaque }));
    const followed = Response.json({ keys: [{ ...publicJwk, kid: KID }] });
    Object.defineProperty(followed, 'redirected', { value: true });
    await rejects(await sign(), 'jwks_redirect', options({ fetch: async () => followed }));
  });

  test('jwks_fetch_failed: not 200, or the server cannot be reached', async () => {
    for (const status of [201, 204, 404, 500, 503]) {
      const path = `/status-${status}.json`;
      jwks.serve(path, status === 204 ? '' : { keys: [{ ...publicJwk, kid: KID }] }, status);
      await rejects(await sign(header({ jku: jwks.url(path) })), 'jwks_fetch_failed');
    }
    const closed = await new JwksServer().start();
    await closed.stop();
    await rejects(await sign(header({ jku: closed.url('/jwks.json') })), 'jwks_fetch_failed');
    await rejects(
      await sign(),
      'jwks_fetch_failed',
      options({
        fetch: async () => {
          throw new TypeError('network down');
        },
      }),
    );
  });

  test('jwks_fetch_failed: a JWKS that takes longer than jwksTimeoutMs', async () => {
    jwks.routes.set('/slow.json', () => {});
    await rejects(
      await sign(header({ jku: jwks.url('/slow.json') })),
      'jwks_fetch_failed',
      options({ jwksTimeoutMs: 100 }),
    );
  });

  test('jwks_invalid: not JSON, or no keys array', async () => {
    for (const [i, body] of [
      '{"keys": [',
      'null',
      '[]',
      '{}',
      '{"keys": {}}',
      '{"keys": "x"}',
      '"keys"',
    ].entries()) {
      const url = jwks.serve(`/invalid-${i}.json`, body);
      await rejects(await sign(header({ jku: url })), 'jwks_invalid');
    }
  });

  test('kid_unknown: no key with the kid (keys without a kid, or non-objects, never match)', async () => {
    const url = jwks.serve('/other-kids.json', {
      keys: [{ ...publicJwk, kid: 'other' }, { ...publicJwk }, null, 'x'],
    });
    await rejects(await sign(header({ jku: url })), 'kid_unknown');
    const empty = jwks.serve('/empty.json', { keys: [] });
    await rejects(await sign(header({ jku: empty })), 'kid_unknown');
  });

  test('kid_ambiguous: more than one key with the kid', async () => {
    const url = jwks.serve('/duplicate.json', {
      keys: [
        { ...publicJwk, kid: KID },
        { ...attackerJwk, kid: KID },
      ],
    });
    await rejects(await sign(header({ jku: url })), 'kid_ambiguous');
    const same = jwks.serve('/duplicate-same.json', {
      keys: [
        { ...publicJwk, kid: KID },
        { ...publicJwk, kid: KID },
      ],
    });
    await rejects(await sign(header({ jku: same })), 'kid_ambiguous');
  });

  test('an unknown kid refetches the JWKS at most once per cool-down', async () => {
    const path = '/rotating.json';
    let keys: JWK[] = [{ ...publicJwk, kid: KID }];
    jwks.routes.set(path, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    let clock = NOW;
    const verify = createVerifier(options({ now: () => clock }));
    const jku = jwks.url(path);
    const unknown = await sign(header({ jku, kid: 'next-key' }), claims({ exp: NOW_S + 3600 }));
    const known = await sign(header({ jku }), claims({ exp: NOW_S + 3600 }));
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: TokenVerificationError) => e.code,
      );

    assert.equal(await code(verify(known)), 'ok');
    assert.equal(jwks.count(path), 1);
    // Within the cool-down of that fetch: no refetch, however many unknown kids arrive.
    for (let i = 0; i < 5; i++) assert.equal(await code(verify(unknown)), 'kid_unknown');
    assert.equal(jwks.count(path), 1);
    clock += 59_000;
    assert.equal(await code(verify(unknown)), 'kid_unknown');
    assert.equal(jwks.count(path), 1);
    // Cool-down over: exactly one refetch, then the new cool-down starts.
    clock += 1_000;
    assert.equal(await code(verify(unknown)), 'kid_unknown');
    assert.equal(jwks.count(path), 2);
    for (let i = 0; i < 3; i++) assert.equal(await code(verify(unknown)), 'kid_unknown');
    assert.equal(jwks.count(path), 2);
    // The key is published (a rotation): found at the next refetch after the cool-down.
    keys = [...keys, { ...publicJwk, kid: 'next-key' }];
    clock += 30_000;
    assert.equal(await code(verify(unknown)), 'kid_unknown');
    assert.equal(jwks.count(path), 2);
    clock += 30_000;
    assert.equal(await code(verify(unknown)), 'ok');
    assert.equal(jwks.count(path), 3);
    // Known kids are served from the cache.
    for (let i = 0; i < 5; i++) assert.equal(await code(verify(known)), 'ok');
    assert.equal(jwks.count(path), 3);
  });

  test('the JWKS is cached per jku URL for jwksCacheMs and shared across a verifier’s calls', async () => {
    const a = jwks.serve('/cache-a.json', { keys: [{ ...publicJwk, kid: KID }] });
    const b = jwks.serve('/cache-b.json', { keys: [{ ...publicJwk, kid: KID }] });
    let clock = NOW;
    const verify = createVerifier(options({ now: () => clock, jwksCacheMs: 120_000 }));
    const ta = await sign(header({ jku: a }), claims({ exp: NOW_S + 3600 }));
    const tb = await sign(header({ jku: b }), claims({ exp: NOW_S + 3600 }));
    await Promise.all([verify(ta), verify(ta), verify(ta)]);
    await verify(tb);
    await verify(ta);
    assert.equal(jwks.count('/cache-a.json'), 1, 'concurrent first calls share one fetch');
    assert.equal(jwks.count('/cache-b.json'), 1);
    clock += 119_000;
    await verify(ta);
    assert.equal(jwks.count('/cache-a.json'), 1);
    clock += 1_000;
    await verify(ta);
    assert.equal(jwks.count('/cache-a.json'), 2);
    // verifyAccessToken keeps nothing between calls.
    await passes(ta);
    await passes(ta);
    assert.equal(jwks.count('/cache-a.json'), 4);
  });

  test('a key removed from the JWKS stops verifying once the cache expires', async () => {
    const path = '/revoking.json';
    let keys: JWK[] = [{ ...publicJwk, kid: KID }];
    jwks.routes.set(path, (_req, res) => res.writeHead(200).end(JSON.stringify({ keys })));
    let clock = NOW;
    const verify = createVerifier(options({ now: () => clock }));
    const token = await sign(header({ jku: jwks.url(path) }), claims({ exp: NOW_S + 3600 }));
    await verify(token);
    keys = [];
    clock += 600_000;
    await assert.rejects(verify(token), { code: 'kid_unknown' });
  });
});

describe('6. key_mismatch: the key must fit the alg', () => {
  const cases: [string, (jwk: JWK) => Json][] = [
    ['kty RSA', () => ({ kty: 'RSA', n: 'sXch', e: 'AQAB' })],
    ['kty EC', () => ({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' })],
    ['kty oct', () => ({ kty: 'oct', k: 'c2VjcmV0' })],
    ['crv X25519', (jwk) => ({ ...jwk, crv: 'X25519' })],
    ['crv Ed448', (jwk) => ({ ...jwk, crv: 'Ed448' })],
    ['no kty', (jwk) => ({ crv: jwk.crv, x: jwk.x })],
    ['alg ES256', (jwk) => ({ ...jwk, alg: 'ES256' })],
    ['alg Ed25519', (jwk) => ({ ...jwk, alg: 'Ed25519' })],
    ['use enc', (jwk) => ({ ...jwk, use: 'enc' })],
    ['key_ops without verify', (jwk) => ({ ...jwk, key_ops: ['sign'] })],
    ['no x', (jwk) => ({ kty: jwk.kty, crv: jwk.crv })],
    ['an x that is not a key', (jwk) => ({ ...jwk, x: 'AAAA' })],
  ];
  for (const [name, make] of cases) {
    test(name, async () => {
      const url = jwks.serve(`/mismatch-${name.replace(/\W/g, '-')}.json`, {
        keys: [{ ...make(publicJwk), kid: KID }],
      });
      await rejects(await sign(header({ jku: url })), 'key_mismatch');
    });
  }

  test('alg EdDSA, use sig and key_ops [verify] on the key are accepted', async () => {
    const url = jwks.serve('/fitting.json', {
      keys: [{ ...publicJwk, kid: KID, alg: 'EdDSA', use: 'sig', key_ops: ['verify'] }],
    });
    await passes(await sign(header({ jku: url })));
  });
});

describe('7. signature_invalid', () => {
  test("a header jwk of the attacker's own key, signed by that key, is ignored: the JWKS key is used", async () => {
    const token = await sign(header({ jwk: attackerJwk }), claims(), attackerPrivate);
    await rejects(token, 'signature_invalid');
    // The same with the key material in x5c / x5u pointers, or the attacker's key given no kid.
    await rejects(
      await sign(header({ x5u: 'https://evil.example/cert' }), claims(), attackerPrivate),
      'signature_invalid',
    );
  });

  test('a token signed by another key, a tampered payload or header, a truncated or empty signature', async () => {
    await rejects(await sign(header(), claims(), attackerPrivate), 'signature_invalid');
    const [h, p, s] = (await sign()).split('.') as [string, string, string];
    const elevated = enc(claims({ scope: 'iracing.auth iracing.admin' }));
    await rejects(`${h}.${elevated}.${s}`, 'signature_invalid');
    await rejects(`${enc({ ...header(), typ: 'JWT' })}.${p}.${s}`, 'signature_invalid');
    await rejects(`${h}.${p}.${s.slice(0, -4)}`, 'signature_invalid');
    await rejects(`${h}.${p}.`, 'signature_invalid');
    const flipped = Buffer.from(s, 'base64url');
    flipped[0]! ^= 1;
    await rejects(`${h}.${p}.${flipped.toString('base64url')}`, 'signature_invalid');
  });

  test('an unknown critical header parameter is refused by jose', async () => {
    const input = `${enc(header({ crit: ['exp'], exp: 1 }))}.${enc(claims())}`;
    const raw = await crypto.subtle.sign('Ed25519', privateKey, new TextEncoder().encode(input));
    await rejects(`${input}.${Buffer.from(raw).toString('base64url')}`, 'signature_invalid');
  });
});

describe('8. claims', () => {
  const check = async (overrides: Json, code: string, opts: Partial<VerifyOptions> = {}) =>
    rejects(await sign(header(), claims(overrides)), code, options(opts));
  const ok = async (overrides: Json, opts: Partial<VerifyOptions> = {}) =>
    passes(await sign(header(), claims(overrides)), options(opts));

  test('expired: exp missing, not a number, or at/before now minus the tolerance', async () => {
    await check({ exp: NOW_S - 6 }, 'expired');
    await check({ exp: NOW_S - 5 }, 'expired');
    await ok({ exp: NOW_S - 4 });
    await check({ exp: undefined }, 'expired');
    await check({ exp: String(NOW_S + 600) }, 'expired');
    await check({ exp: null }, 'expired');
    await check({ exp: NOW_S }, 'expired', { clockToleranceSeconds: 0 });
    await ok({ exp: NOW_S + 1 }, { clockToleranceSeconds: 0 });
    await check({ exp: NOW_S - 30 }, 'expired', { clockToleranceSeconds: 30 });
    await ok({ exp: NOW_S - 29 }, { clockToleranceSeconds: 30 });
  });

  test('iat_future: iat missing or after now plus the tolerance', async () => {
    await check({ iat: NOW_S + 6 }, 'iat_future');
    await ok({ iat: NOW_S + 5 });
    await check({ iat: undefined }, 'iat_future');
    await check({ iat: String(NOW_S) }, 'iat_future');
    await check({ iat: NOW_S + 1 }, 'iat_future', { clockToleranceSeconds: 0 });
  });

  test('auth_time_future: auth_time missing or after now plus the tolerance', async () => {
    await check({ auth_time: undefined }, 'auth_time_future');
    await check({ auth_time: 'yesterday' }, 'auth_time_future');
    // auth_time ahead of the clock (iat no earlier than it, within the tolerance for iat)
    await check({ auth_time: NOW_S + 6, iat: NOW_S + 5 }, 'auth_time_future');
    await ok({ auth_time: NOW_S + 5, iat: NOW_S + 5 });
  });

  test('iat_before_auth_time', async () => {
    await check({ iat: NOW_S - 101 }, 'iat_before_auth_time');
    await ok({ iat: NOW_S - 100 });
  });

  test('issuer_mismatch: compared exactly', async () => {
    for (const iss of [
      'https://evil.example',
      `${ISSUER}/`,
      'https://OAUTH.iracing.com',
      undefined,
      null,
      1,
    ]) {
      await check({ iss }, 'issuer_mismatch');
    }
  });

  test('audience_mismatch: aud holds "oauth-api", the client_id and every required audience', async () => {
    await check({ aud: [CLIENT, 'data-server'] }, 'audience_mismatch');
    await check({ aud: ['oauth-api', 'data-server'] }, 'audience_mismatch');
    await check({ aud: [CLIENT, 'oauth-api'] }, 'audience_mismatch');
    await check({ aud: [CLIENT, 'oauth-api'] }, 'audience_mismatch', { audience: ['data-server', 'other'] });
    await check({ aud: [CLIENT, 'oauth-api', 'data-server'] }, 'audience_mismatch', {
      audience: ['data-server', 'other'],
    });
    await check({ aud: 'oauth-api' }, 'audience_mismatch');
    await check({ aud: undefined }, 'audience_mismatch');
    await check({ aud: [CLIENT, 'OAUTH-API', 'data-server'] }, 'audience_mismatch');
    await check({ aud: [CLIENT, 'oauth-api', 'data-server', 5] }, 'audience_mismatch');
    await check({ aud: { 0: 'oauth-api' } }, 'audience_mismatch');
    // Without the clientId option, the token's own client_id must be in aud (the book's rule).
    await check({ aud: ['oauth-api', 'data-server'] }, 'audience_mismatch', { clientId: undefined });
    await ok(
      { aud: ['other-client', 'oauth-api', 'data-server'], client_id: 'other-client' },
      { clientId: undefined },
    );
    await ok({ aud: [CLIENT, 'oauth-api'] }, { audience: undefined });
  });

  test('client_id_mismatch', async () => {
    await check({ client_id: 'other-client' }, 'client_id_mismatch');
    await check({ client_id: undefined }, 'client_id_mismatch');
    await check({ client_id: CLIENT.toUpperCase() }, 'client_id_mismatch');
  });

  test('scope_missing: every required scope, as a whole word; a null scope grants none', async () => {
    await check({ scope: null }, 'scope_missing');
    await check({ scope: undefined }, 'scope_missing');
    await check({ scope: '' }, 'scope_missing');
    await check({ scope: 'iracing.profile' }, 'scope_missing');
    await check({ scope: 'iracing.authx iracing.aut' }, 'scope_missing');
    await check({ scope: 'iracing.auth' }, 'scope_missing', {
      requiredScopes: ['iracing.auth', 'iracing.profile'],
    });
    await check({ scope: ['iracing.auth'] }, 'scope_missing');
  });

  test('env_mismatch: iracing_env present, not null and unexpected', async () => {
    await check({ iracing_env: 'test' }, 'env_mismatch');
    await check({ iracing_env: 'Members' }, 'env_mismatch');
    await check({ iracing_env: '' }, 'env_mismatch');
    await check({ iracing_env: 1 }, 'env_mismatch');
    await check({ iracing_env: 'members' }, 'env_mismatch', { env: 'test' });
  });

  test('claim_type: iracing_cust_id, iracing_group_ids, session_id, sub, jti of the wrong type', async () => {
    const wrong: Json[] = [
      { iracing_cust_id: '15535' },
      { iracing_cust_id: 1.5 },
      { iracing_cust_id: true },
      { iracing_cust_id: 2 ** 60 },
      { iracing_group_ids: [1, '2'] },
      { iracing_group_ids: '1,2' },
      { iracing_group_ids: [1.5] },
      { iracing_group_ids: [null] },
      { iracing_group_ids: { 0: 1 } },
      { session_id: 5 },
      { session_id: null },
      { sub: 5 },
      { sub: {} },
      { jti: 5 },
      { jti: null },
    ];
    for (const overrides of wrong) await check(overrides, 'claim_type');
    await ok({ iracing_group_ids: [] });
    await check({ client_id: 5, aud: ['oauth-api', 'data-server'] }, 'claim_type', { clientId: undefined });
    await check({ scope: 5 }, 'claim_type', { requiredScopes: [] });
  });
});

describe('JWKS fetches a token can cause', () => {
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: TokenVerificationError) => e.code,
    );
  const longLived = (h: Json, key: CryptoKey = privateKey) => sign(h, claims({ exp: NOW_S + 3600 }), key);

  describe('a pinned jwksUri', () => {
    test('a token whose jku is the pinned URI verifies; only that URI is ever fetched', async () => {
      const pinned = jwks.serve('/pinned.json', { keys: [{ ...publicJwk, kid: KID }] });
      const verify = createVerifier(options({ jwksUri: pinned }));
      for (let i = 0; i < 3; i++) assert.equal(await code(verify(await sign(header({ jku: pinned })))), 'ok');
      assert.equal(jwks.count('/pinned.json'), 1);
    });

    test('jku_not_pinned: any other jku, even one on an allowed host serving the right key, is never fetched', async () => {
      const pinned = jwks.serve('/pinned-2.json', { keys: [{ ...publicJwk, kid: KID }] });
      const other = jwks.serve('/other-good.json', { keys: [{ ...publicJwk, kid: KID }] });
      const verify = createVerifier(options({ jwksUri: pinned }));
      assert.equal(await code(verify(await sign(header({ jku: other })))), 'jku_not_pinned');
      for (const jku of [`${pinned}x`, `${pinned}?`, `${pinned}#`, pinned.replace('http:', 'https:')]) {
        assert.equal(await code(verify(await sign(header({ jku })))), 'jku_not_pinned', jku);
      }
      assert.equal(jwks.count('/other-good.json'), 0);
      assert.equal(jwks.count('/pinned-2.json'), 0);
      // A missing jku is still jku_missing.
      assert.equal(await code(verify(craft(header({ jku: undefined })))), 'jku_missing');
    });

    test('compared as URLs (scheme and host case, default port), and the pin stands in for the host rule', async () => {
      const fetched: string[] = [];
      const stub: typeof fetch = async (input) => {
        fetched.push(String(input));
        return Response.json({ keys: [{ ...publicJwk, kid: KID }] });
      };
      const verify = createVerifier(
        options({
          jwksUri: 'https://keys.example.net/.well-known/jwks.json',
          jkuHostSuffix: '.iracing.com',
          allowInsecureLoopback: false,
          fetch: stub,
        }),
      );
      for (const jku of [
        'https://keys.example.net/.well-known/jwks.json',
        'HTTPS://Keys.Example.NET:443/.well-known/jwks.json',
      ]) {
        assert.equal(await code(verify(await sign(header({ jku })))), 'ok', jku);
      }
      assert.deepEqual(fetched, ['https://keys.example.net/.well-known/jwks.json']);
    });

    test('is checked when the verifier is created', () => {
      for (const jwksUri of [
        '',
        'not a url',
        'http://oauth.iracing.com/jwks.json',
        'https://user@oauth.iracing.com/jwks.json',
        'https://oauth.iracing.com/jwks.json?x=1',
        'https://oauth.iracing.com/jwks.json#k',
        'http://127.0.0.1:9/jwks.json',
      ]) {
        assert.throws(
          () => createVerifier({ issuer: ISSUER, jwksUri, allowInsecureLoopback: false }),
          TypeError,
          jwksUri,
        );
      }
      assert.doesNotThrow(() =>
        createVerifier({
          issuer: ISSUER,
          jwksUri: 'http://127.0.0.1:9/jwks.json',
          allowInsecureLoopback: true,
        }),
      );
    });
  });

  describe('without a pin', () => {
    test('jku_throttled: at most jwksNewUrlLimit (default 4) new jku URLs are fetched per interval (default 60 s)', async () => {
      let clock = NOW;
      const verify = createVerifier(options({ now: () => clock }));
      const good = jwks.serve('/throttle-good.json', { keys: [{ ...publicJwk, kid: KID }] });
      assert.equal(await code(verify(await longLived(header({ jku: good })))), 'ok');
      // Unknown URLs (404 here): three more fetches are allowed in this minute, then none.
      const probe = async (i: number) =>
        code(verify(await longLived(header({ jku: jwks.url(`/flood-a-${i}`) }))));
      for (let i = 0; i < 3; i++) assert.equal(await probe(i), 'jwks_fetch_failed');
      for (let i = 3; i < 20; i++) assert.equal(await probe(i), 'jku_throttled');
      for (let i = 0; i < 20; i++) assert.equal(jwks.count(`/flood-a-${i}`), i < 3 ? 1 : 0, `/flood-a-${i}`);
      // Retrying a URL that failed is a new fetch too.
      assert.equal(await probe(0), 'jku_throttled');
      // The known JWKS keeps working meanwhile, from its cache and when its cache expires.
      assert.equal(await code(verify(await longLived(header({ jku: good })))), 'ok');
      assert.equal(jwks.count('/throttle-good.json'), 1);
      clock += 59_999;
      assert.equal(await probe(30), 'jku_throttled');
      clock += 1;
      assert.equal(await probe(31), 'jwks_fetch_failed');
      assert.equal(jwks.count('/flood-a-31'), 1);
      clock += 600_000;
      assert.equal(await code(verify(await longLived(header({ jku: good })))), 'ok');
      assert.equal(jwks.count('/throttle-good.json'), 2);
    });

    test('the limit and the interval are options; concurrent calls for one new URL share one fetch', async () => {
      let clock = NOW;
      const verify = createVerifier(
        options({ now: () => clock, jwksNewUrlLimit: 2, jwksNewUrlIntervalMs: 10_000 }),
      );
      const one = jwks.serve('/limit-1.json', { keys: [{ ...publicJwk, kid: KID }] });
      const token = await longLived(header({ jku: one }));
      assert.deepEqual(await Promise.all([1, 2, 3].map(() => code(verify(token)))), ['ok', 'ok', 'ok']);
      assert.equal(jwks.count('/limit-1.json'), 1);
      const probe = async (i: number) =>
        code(verify(await longLived(header({ jku: jwks.url(`/limit-x-${i}`) }))));
      assert.equal(await probe(1), 'jwks_fetch_failed');
      assert.equal(await probe(2), 'jku_throttled');
      clock += 10_000;
      assert.equal(await probe(3), 'jwks_fetch_failed');
      assert.throws(() => createVerifier(options({ jwksNewUrlLimit: 0 })), TypeError);
      assert.throws(() => createVerifier(options({ jwksNewUrlLimit: 1.5 })), TypeError);
      assert.throws(() => createVerifier(options({ jwksNewUrlIntervalMs: -1 })), TypeError);
    });

    test('a flood of other JWKS sets never evicts one that has verified tokens', async () => {
      let clock = NOW;
      // No throttle in the way: this is about the cache alone.
      const verify = createVerifier(options({ now: () => clock, jwksNewUrlLimit: 1_000_000 }));
      const good = jwks.serve('/evict-good.json', { keys: [{ ...publicJwk, kid: KID }] });
      const token = await longLived(header({ jku: good }));
      assert.equal(await code(verify(token)), 'ok');
      // 200 URLs on the allowed host that serve a JWKS with the kid (e.g. path variants of the real
      // one); the tokens naming them are signed by another key, so none of these sets ever verifies.
      for (let i = 0; i < 200; i++) {
        const jku = jwks.serve(`/evict-flood-${i}.json`, { keys: [{ ...publicJwk, kid: KID }] });
        assert.equal(
          await code(verify(await longLived(header({ jku }), attackerPrivate))),
          'signature_invalid',
        );
        clock += 100;
      }
      assert.equal(await code(verify(token)), 'ok');
      assert.equal(jwks.count('/evict-good.json'), 1, 'still cached: not fetched again');
    });

    test('sets that verified tokens are kept most recently used first, 32 of them', async () => {
      const verify = createVerifier(options({ jwksNewUrlLimit: 1_000_000 }));
      const urls = Array.from({ length: 33 }, (_, i) =>
        jwks.serve(`/lru-${i}.json`, { keys: [{ ...publicJwk, kid: KID }] }),
      );
      const tokens = await Promise.all(urls.map((jku) => sign(header({ jku }))));
      for (const t of tokens.slice(0, 32)) assert.equal(await code(verify(t)), 'ok');
      // lru-0 is used again, so lru-1 is the least recently used when lru-32 comes in.
      assert.equal(await code(verify(tokens[0]!)), 'ok');
      assert.equal(await code(verify(tokens[32]!)), 'ok');
      assert.equal(await code(verify(tokens[0]!)), 'ok');
      assert.equal(jwks.count('/lru-0.json'), 1);
      assert.equal(await code(verify(tokens[1]!)), 'ok');
      assert.equal(jwks.count('/lru-1.json'), 2);
    });
  });
});

describe('options', () => {
  test('are checked when the verifier is created', () => {
    assert.throws(() => createVerifier({ issuer: '' }), TypeError);
    assert.throws(() => createVerifier({ issuer: 'not a url' }), TypeError);
    assert.throws(() => createVerifier({ issuer: ISSUER, jkuHostSuffix: '' }), TypeError);
    assert.throws(() => createVerifier({ issuer: ISSUER, jkuHostSuffix: '.' }), TypeError);
    assert.throws(() => createVerifier({ issuer: ISSUER, clockToleranceSeconds: -1 }), TypeError);
    assert.throws(() => createVerifier({ issuer: ISSUER, audience: [''] }), TypeError);
    assert.doesNotThrow(() => createVerifier({ issuer: 'issuer-id', jkuHostSuffix: '.iracing.com' }));
  });
});

describe('end to end with a real Paddock server', () => {
  test('a token issued by the server verifies; tampering with it does not', async () => {
    const server = await startInProcess({ name: 'client-verify' });
    try {
      const h = await headless(server.ctx!.store);
      const r = await login(server, h, { scope: 'iracing.auth' });
      assert.equal(r.status, 200, r.text);
      const token: string = r.body.access_token;
      const verify = createVerifier({
        issuer: server.issuer,
        clientId: h.clientId,
        audience: 'data-server',
        requiredScopes: ['iracing.auth'],
        allowInsecureLoopback: true,
        jkuHostSuffix: '127.0.0.1',
      });
      const { header: hd, payload } = await verify(token);
      assert.equal(hd.alg, 'EdDSA');
      assert.equal(hd.jku, `${server.url}/.well-known/jwks.json`);
      assert.equal(payload.iss, server.issuer);
      assert.equal(payload.client_id, h.clientId);
      assert.equal(payload.sub, h.userId);
      assert.ok(Array.isArray(payload.aud) && payload.aud.includes('oauth-api'));
      assert.equal(payload.scope, 'iracing.auth');
      assert.equal(payload.iracing_env, 'members');
      assert.deepEqual(payload.iracing_group_ids, [1, 2, 3, 5, 8, 10]);

      await assert.rejects(verify(token.slice(0, -2)), { code: 'signature_invalid' });
      const wrongClient = createVerifier({
        issuer: server.issuer,
        clientId: 'someone-else',
        allowInsecureLoopback: true,
        jkuHostSuffix: '127.0.0.1',
      });
      await assert.rejects(wrongClient(token), { code: 'audience_mismatch' });
      const moreScope = createVerifier({
        issuer: server.issuer,
        requiredScopes: ['iracing.profile'],
        allowInsecureLoopback: true,
        jkuHostSuffix: '127.0.0.1',
      });
      await assert.rejects(moreScope(token), { code: 'scope_missing' });
      // The refresh token is not an access token: an HMAC under the server's own key, with no kid to look up.
      await assert.rejects(verify(r.body.refresh_token), { code: 'kid_missing' });
    } finally {
      await server.stop();
    }
  });
});
