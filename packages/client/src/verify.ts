/**
 * Access token verification for resource servers: every step of the book's "Validation and
 * Verification" (Tokens → Access Token → Advanced Use), in the book's order, each failing with its own
 * `code`. Isomorphic: WebCrypto (through jose) and fetch only, so it runs in Node 20+ and browsers.
 * See VERIFY.md for usage, the options and every error code.
 */
import { compactVerify, importJWK, type JWTHeaderParameters } from 'jose';

/** The audience every access token carries besides its client_id. */
const OAUTH_API_AUDIENCE = 'oauth-api';
/** The only algorithm this implementation supports (the book: "typically EdDSA"). */
const SUPPORTED_ALG = 'EdDSA';
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
/** JWKS sets that have verified a token, per verifier; the least recently used is forgotten beyond this. */
const MAX_PROVEN_JWKS = 32;
/**
 * JWKS sets fetched for a jku but not (yet) proven by a verified token. Kept apart, so sets named by
 * tokens that fail verification never push out one that works.
 */
const MAX_UNPROVEN_JWKS = 8;

export interface VerifyOptions {
  /** The expected `iss`, compared exactly, e.g. 'https://oauth.iracing.com'. */
  issuer: string;
  /** When set, `aud` must include it and the `client_id` claim must equal it. */
  clientId?: string;
  /** Further audiences that must all be in `aud` (e.g. 'data-server'). */
  audience?: string | string[];
  /** Scopes that must all be in the space-separated `scope` claim (a null scope grants none). */
  requiredScopes?: string[];
  /** The expected `iracing_env` when that claim is present and not null. Default 'members'. */
  env?: string;
  /**
   * The jku's host must end with this (case-insensitive). A suffix starting with '.' matches
   * subdomains only ('.iracing.com', the book's rule); one without matches that host itself or any
   * subdomain of it. Default: the issuer's host, i.e. the issuer host itself or '.' + issuer host.
   */
  jkuHostSuffix?: string;
  /**
   * The one JWKS URI to trust (e.g. 'https://oauth.iracing.com/.well-known/jwks.json'). When set, a
   * token's jku must equal it (compared as URLs) or the token fails with `jku_not_pinned`, only this URI
   * is ever fetched, and it takes the place of the jkuHostSuffix rule. Recommended.
   */
  jwksUri?: string;
  /**
   * Without a pinned jwksUri: at most this many fetches of jku URLs the verifier has no JWKS for, per
   * jwksNewUrlIntervalMs; further new URLs fail with `jku_throttled` without a fetch. Default 4.
   */
  jwksNewUrlLimit?: number;
  /** The interval of jwksNewUrlLimit, in ms. Default 60 000. */
  jwksNewUrlIntervalMs?: number;
  /** Accept an http:// jku on 127.0.0.1, [::1] or localhost. Local development only. Default false. */
  allowInsecureLoopback?: boolean;
  /** Clock skew allowed on exp, iat and auth_time, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Minimum time between two fetches of a JWKS caused by an unknown kid, in ms. Default 60 000. */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is trusted before it is fetched again, in ms. Default 600 000. */
  jwksCacheMs?: number;
  /** How long a JWKS fetch may take before it fails (jwks_fetch_failed), in ms. Default 10 000. */
  jwksTimeoutMs?: number;
  /** The fetch used for the JWKS. Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** The clock, in ms since the epoch. Default Date.now. */
  now?: () => number;
}

export type TokenVerificationErrorCode =
  | 'malformed'
  | 'kid_missing'
  | 'alg_missing'
  | 'alg_none'
  | 'alg_unsupported'
  | 'jku_missing'
  | 'jku_invalid'
  | 'jku_not_https'
  | 'jku_userinfo'
  | 'jku_query'
  | 'jku_fragment'
  | 'jku_host'
  | 'jku_not_pinned'
  | 'jku_throttled'
  | 'jwks_redirect'
  | 'jwks_fetch_failed'
  | 'jwks_invalid'
  | 'kid_unknown'
  | 'kid_ambiguous'
  | 'key_mismatch'
  | 'signature_invalid'
  | 'expired'
  | 'iat_future'
  | 'auth_time_future'
  | 'iat_before_auth_time'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'client_id_mismatch'
  | 'scope_missing'
  | 'env_mismatch'
  | 'claim_type';

/** Why a token was rejected. `code` is stable; `message` is for logs (it never contains the token). */
export class TokenVerificationError extends Error {
  readonly code: TokenVerificationErrorCode;
  constructor(code: TokenVerificationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenVerificationError';
    this.code = code;
  }
}

/** The verified protected header. */
export interface AccessTokenHeader extends JWTHeaderParameters {
  kid: string;
  alg: 'EdDSA';
  jku: string;
}

/**
 * The verified claims. The book documents these, but "the claims in the payload are not guaranteed to
 * be present or to keep any documented meaning": only the ones checked below are guaranteed.
 */
export interface AccessTokenPayload {
  iss: string;
  exp: number;
  iat: number;
  auth_time: number;
  aud: string | string[];
  client_id?: string;
  session_id?: string;
  sub?: string | null;
  jti?: string;
  scope?: string | null;
  iracing_env?: string | null;
  iracing_cust_id?: number | null;
  iracing_group_ids?: number[] | null;
  [claim: string]: unknown;
}

export interface VerifiedAccessToken {
  header: AccessTokenHeader;
  payload: AccessTokenPayload;
}

type Json = Record<string, unknown>;

interface JwksEntry {
  keys: unknown[];
  fetchedAt: number;
  imported: Map<string, CryptoKey>;
}

interface Settings {
  issuer: string;
  clientId: string | undefined;
  audiences: string[];
  requiredScopes: string[];
  env: string;
  hostSuffix: string;
  /** The pinned JWKS URI, normalized (URL href), and as given. */
  pinned: { href: string; raw: string } | undefined;
  newUrlLimit: number;
  newUrlIntervalMs: number;
  allowInsecureLoopback: boolean;
  tolerance: number;
  cooldownMs: number;
  cacheMs: number;
  timeoutMs: number;
  fetch: typeof fetch;
  now: () => number;
}

/**
 * Verifies one access token. It keeps no JWKS between calls, so each call fetches the JWKS: a resource
 * server should hold one `createVerifier(options)` instead.
 */
export async function verifyAccessToken(token: string, options: VerifyOptions): Promise<VerifiedAccessToken> {
  return createVerifier(options)(token);
}

/**
 * A verifier for many tokens, sharing one JWKS cache (per jku URL) across its calls. Tokens are
 * attacker-supplied, and so is their jku: without a pinned jwksUri, fetches of jku URLs it has no JWKS
 * for are rate-limited, and a JWKS that has verified tokens is only ever replaced by another that has.
 */
export function createVerifier(options: VerifyOptions): (token: string) => Promise<VerifiedAccessToken> {
  const settings = settingsFrom(options);
  // Both maps are in least-recently-used-first order.
  const proven = new Map<string, JwksEntry>();
  const unproven = new Map<string, JwksEntry>();
  const inflight = new Map<string, Promise<JwksEntry>>();
  /** Start times of the fetches of new jku URLs within the last interval, oldest first. */
  const newUrlFetches: number[] = [];

  function remember(map: Map<string, JwksEntry>, max: number, url: string, entry: JwksEntry): void {
    map.delete(url);
    map.set(url, entry);
    if (map.size > max) map.delete(map.keys().next().value!);
  }

  function refetch(url: string): Promise<JwksEntry> {
    let pending = inflight.get(url);
    if (!pending) {
      pending = fetchJwks(url, settings).then(
        (entry) => {
          inflight.delete(url);
          if (proven.has(url) || url === settings.pinned?.href) remember(proven, MAX_PROVEN_JWKS, url, entry);
          else remember(unproven, MAX_UNPROVEN_JWKS, url, entry);
          return entry;
        },
        (error: unknown) => {
          inflight.delete(url);
          throw error;
        },
      );
      inflight.set(url, pending);
    }
    return pending;
  }

  /** Admits one fetch of a jku URL the verifier holds no JWKS for, or fails with jku_throttled. */
  function admitNewUrl(url: string): void {
    const now = settings.now();
    while (newUrlFetches.length > 0 && now - newUrlFetches[0]! >= settings.newUrlIntervalMs) {
      newUrlFetches.shift();
    }
    if (newUrlFetches.length >= settings.newUrlLimit) {
      fail(
        'jku_throttled',
        `not fetching the JWKS at ${url}: ${settings.newUrlLimit} new jku URLs were fetched in the last ${settings.newUrlIntervalMs} ms`,
      );
    }
    newUrlFetches.push(now);
  }

  async function keyFor(url: string, kid: string): Promise<{ jwk: Json; entry: JwksEntry }> {
    let entry = proven.get(url) ?? unproven.get(url);
    if (!entry) {
      if (!inflight.has(url) && url !== settings.pinned?.href) admitNewUrl(url);
      entry = await refetch(url);
    } else if (settings.now() - entry.fetchedAt >= settings.cacheMs) entry = await refetch(url);
    let matches = keysWithKid(entry, kid);
    // An unknown kid may be a freshly rotated key: fetch again, but at most once per cool-down.
    if (matches.length === 0 && settings.now() - entry.fetchedAt >= settings.cooldownMs) {
      entry = await refetch(url);
      matches = keysWithKid(entry, kid);
    }
    if (matches.length === 0) fail('kid_unknown', `the JWKS has no key with the token's kid ${show(kid)}`);
    if (matches.length > 1)
      fail('kid_ambiguous', `the JWKS has ${matches.length} keys with kid ${show(kid)}`);
    return { jwk: matches[0]!, entry };
  }

  /** A token verified with the JWKS at url: that set is proven, and the most recently used. */
  function verifiedWith(url: string, entry: JwksEntry): void {
    const current = unproven.get(url) ?? proven.get(url) ?? entry;
    unproven.delete(url);
    remember(proven, MAX_PROVEN_JWKS, url, current);
  }

  return async function verify(token: string): Promise<VerifiedAccessToken> {
    // 1. A well-formed JWS in compact serialization.
    const unverified = parseCompact(token);

    // 2. kid: a non-empty string.
    const { kid, alg, jku } = unverified.header;
    if (typeof kid !== 'string' || kid === '')
      fail('kid_missing', 'the header has no kid (a non-empty string)');

    // 3. alg: a non-empty string, not "none", and supported.
    if (typeof alg !== 'string' || alg === '')
      fail('alg_missing', 'the header has no alg (a non-empty string)');
    if (alg.toLowerCase() === 'none') fail('alg_none', 'alg "none" means the token is unsigned');
    if (alg !== SUPPORTED_ALG) fail('alg_unsupported', `alg ${show(alg)} is not supported (only EdDSA)`);

    // 4. jku: the pinned JWKS URI when there is one; else an https URL without userinfo, query or
    // fragment, on an allowed host.
    const jwksUrl = settings.pinned ? checkPinnedJku(jku, settings.pinned) : checkJku(jku, settings);

    // 5. One and only one key with the kid in the JWKS at the jku (no redirects followed).
    const { jwk, entry } = await keyFor(jwksUrl, kid);

    // 6. The key fits the alg. Header-provided key material (jwk, x5c, x5u…) is never looked at.
    const key = await importVerificationKey(jwk, alg, kid, entry);

    // 7. The signature, checked by jose with that key only.
    let verified: Awaited<ReturnType<typeof compactVerify>>;
    try {
      verified = await compactVerify(token, key, { algorithms: [SUPPORTED_ALG] });
    } catch (cause) {
      fail('signature_invalid', `the signature does not verify: ${errorMessage(cause)}`, cause);
    }

    // From here on only what jose verified is used.
    const header = verified.protectedHeader as AccessTokenHeader;
    const payload = parseJsonObject(verified.payload, 'payload') as AccessTokenPayload;
    checkClaims(payload, settings);
    verifiedWith(jwksUrl, entry);
    return { header, payload };
  };
}

// ---- options

function settingsFrom(options: VerifyOptions): Settings {
  if (!options || typeof options.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('verifyAccessToken: options.issuer (the expected iss) is required');
  }
  let hostSuffix = options.jkuHostSuffix;
  if (hostSuffix === undefined) {
    let issuerHost: string;
    try {
      issuerHost = new URL(options.issuer).hostname;
    } catch {
      throw new TypeError('verifyAccessToken: options.issuer is not a URL; set options.jkuHostSuffix');
    }
    if (!issuerHost) throw new TypeError('verifyAccessToken: options.issuer has no host; set jkuHostSuffix');
    hostSuffix = issuerHost;
  }
  if (typeof hostSuffix !== 'string' || hostSuffix === '' || hostSuffix === '.') {
    throw new TypeError('verifyAccessToken: options.jkuHostSuffix must be a host or a ".domain" suffix');
  }
  const audiences =
    options.audience === undefined
      ? []
      : Array.isArray(options.audience)
        ? options.audience
        : [options.audience];
  const requiredScopes = options.requiredScopes ?? [];
  if (!audiences.every(isNonEmptyString)) throw new TypeError('verifyAccessToken: options.audience');
  if (!requiredScopes.every(isNonEmptyString))
    throw new TypeError('verifyAccessToken: options.requiredScopes');
  if (options.clientId !== undefined && !isNonEmptyString(options.clientId)) {
    throw new TypeError('verifyAccessToken: options.clientId must be a non-empty string');
  }
  const fetchImpl: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const allowInsecureLoopback = options.allowInsecureLoopback === true;
  let pinned: Settings['pinned'];
  if (options.jwksUri !== undefined) {
    const raw = options.jwksUri;
    if (typeof raw !== 'string' || raw === '') {
      throw new TypeError('verifyAccessToken: options.jwksUri must be a non-empty URL');
    }
    let host: string;
    try {
      host = new URL(raw).hostname;
    } catch {
      throw new TypeError(`verifyAccessToken: options.jwksUri ${show(raw)} is not a URL`);
    }
    // The rules a jku must follow, but on the URI's own host: the pin replaces the host rule.
    try {
      const href = checkJku(raw, { hostSuffix: host.toLowerCase(), allowInsecureLoopback });
      pinned = { href, raw };
    } catch (error) {
      throw new TypeError(`verifyAccessToken: options.jwksUri: ${errorMessage(error)}`);
    }
  }
  const newUrlLimit = options.jwksNewUrlLimit ?? 4;
  if (!Number.isSafeInteger(newUrlLimit) || newUrlLimit < 1) {
    throw new TypeError('verifyAccessToken: options.jwksNewUrlLimit must be a whole number >= 1');
  }
  return {
    issuer: options.issuer,
    clientId: options.clientId,
    audiences,
    requiredScopes,
    env: options.env ?? 'members',
    hostSuffix: hostSuffix.toLowerCase(),
    pinned,
    newUrlLimit,
    newUrlIntervalMs: nonNegative(options.jwksNewUrlIntervalMs, 60_000, 'jwksNewUrlIntervalMs'),
    allowInsecureLoopback,
    tolerance: nonNegative(options.clockToleranceSeconds, 5, 'clockToleranceSeconds'),
    cooldownMs: nonNegative(options.jwksCooldownMs, 60_000, 'jwksCooldownMs'),
    cacheMs: nonNegative(options.jwksCacheMs, 600_000, 'jwksCacheMs'),
    timeoutMs: nonNegative(options.jwksTimeoutMs, 10_000, 'jwksTimeoutMs'),
    fetch: fetchImpl,
    now: options.now ?? Date.now,
  };
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`verifyAccessToken: options.${name} must be a finite number >= 0`);
  }
  return value;
}

// ---- step 1

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function parseCompact(token: unknown): { header: Json; payload: Json } {
  if (typeof token !== 'string') fail('malformed', 'the token is not a string');
  const parts = token.split('.');
  if (parts.length !== 3) fail('malformed', 'the token is not a compact JWS (three dot-separated parts)');
  const [h, p, s] = parts as [string, string, string];
  // The signature may be empty here: an unsigned token is then rejected as alg "none" (step 3).
  if (h === '' || p === '' || ![h, p, s].every((part) => BASE64URL.test(part) && part.length % 4 !== 1)) {
    fail('malformed', 'the token has a part that is not base64url');
  }
  return {
    header: parseJsonObject(decodeBase64url(h), 'header'),
    payload: parseJsonObject(decodeBase64url(p), 'payload'),
  };
}

function decodeBase64url(part: string): Uint8Array {
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function parseJsonObject(bytes: Uint8Array, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    fail('malformed', `the token's ${what} is not UTF-8 JSON`);
  }
  if (!isObject(value)) fail('malformed', `the token's ${what} is not a JSON object`);
  return value;
}

// ---- step 4

function checkJku(jku: unknown, settings: Pick<Settings, 'hostSuffix' | 'allowInsecureLoopback'>): string {
  if (typeof jku !== 'string' || jku === '')
    fail('jku_missing', 'the header has no jku (a non-empty string)');
  let url: URL;
  try {
    // Whitespace and control characters are silently dropped by URL parsers: not a valid URL here.
    if (hasSpaceOrControl(jku)) throw new Error('whitespace or control character');
    url = new URL(jku);
  } catch {
    fail('jku_invalid', `jku ${show(jku)} is not a valid URL`);
  }
  const loopbackHttp =
    settings.allowInsecureLoopback && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp)
    fail('jku_not_https', `jku ${show(jku)} does not use https`);
  // The parser drops an empty userinfo ("https://@host/"), so the raw authority is checked as well.
  const authority = jku.replace(/^[a-z][a-z0-9+.-]*:[/\\]*/i, '').split(/[/\\?#]/, 1)[0] ?? '';
  if (url.username || url.password || authority.includes('@')) {
    fail('jku_userinfo', 'jku must not contain user information');
  }
  // href keeps an empty query ("…?") or fragment ("…#") that search and hash report as ''.
  const hashAt = url.href.indexOf('#');
  if ((hashAt < 0 ? url.href : url.href.slice(0, hashAt)).includes('?')) {
    fail('jku_query', 'jku must not contain a query component');
  }
  if (hashAt >= 0) fail('jku_fragment', 'jku must not contain a fragment component');
  const host = url.hostname.toLowerCase();
  const suffix = settings.hostSuffix;
  const hostOk = suffix.startsWith('.')
    ? host.endsWith(suffix)
    : host === suffix || host.endsWith(`.${suffix}`);
  if (!hostOk) fail('jku_host', `jku host ${show(host)} does not end with ${show(suffix)}`);
  return url.href;
}

/** With a pinned JWKS URI the jku must name it; the pinned URI is what gets fetched. */
function checkPinnedJku(jku: unknown, pinned: NonNullable<Settings['pinned']>): string {
  if (typeof jku !== 'string' || jku === '')
    fail('jku_missing', 'the header has no jku (a non-empty string)');
  if (jku !== pinned.raw) {
    let href: string | undefined;
    try {
      if (!hasSpaceOrControl(jku)) href = new URL(jku).href;
    } catch {}
    if (href !== pinned.href) fail('jku_not_pinned', `jku ${show(jku)} is not the pinned JWKS URI`);
  }
  return pinned.href;
}

// ---- step 5

async function fetchJwks(url: string, settings: Settings): Promise<JwksEntry> {
  const fetchedAt = settings.now();
  let response: Response;
  try {
    response = await settings.fetch(url, {
      method: 'GET',
      redirect: 'manual',
      credentials: 'omit',
      headers: { accept: 'application/jwk-set+json, application/json' },
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
  } catch (cause) {
    fail('jwks_fetch_failed', `fetching the JWKS at ${url} failed: ${errorMessage(cause)}`, cause);
  }
  // Node answers a redirect with its 3xx; browsers with an opaque 'opaqueredirect' response (status 0).
  if (
    response.type === 'opaqueredirect' ||
    response.redirected ||
    (response.status >= 300 && response.status < 400)
  ) {
    await discard(response);
    fail('jwks_redirect', `the JWKS at ${url} redirects; redirects are never followed`);
  }
  if (response.status !== 200) {
    await discard(response);
    fail('jwks_fetch_failed', `the JWKS at ${url} answered HTTP ${response.status}`);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (cause) {
    fail('jwks_fetch_failed', `reading the JWKS at ${url} failed: ${errorMessage(cause)}`, cause);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    fail('jwks_invalid', `the JWKS at ${url} is not JSON`);
  }
  if (!isObject(body) || !Array.isArray(body.keys))
    fail('jwks_invalid', `the JWKS at ${url} has no keys array`);
  return { keys: body.keys, fetchedAt, imported: new Map() };
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {}
}

function keysWithKid(entry: JwksEntry, kid: string): Json[] {
  return entry.keys.filter((k): k is Json => isObject(k) && k.kid === kid);
}

// ---- step 6

async function importVerificationKey(
  jwk: Json,
  alg: string,
  kid: string,
  entry: JwksEntry,
): Promise<CryptoKey> {
  const mismatch = (why: string): never => fail('key_mismatch', `the JWKS key ${show(kid)} ${why}`);
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') mismatch(`is not an OKP Ed25519 key, required by ${alg}`);
  if (jwk.alg !== undefined && jwk.alg !== alg) mismatch(`is for alg ${show(jwk.alg)}, not ${alg}`);
  if (jwk.use !== undefined && jwk.use !== 'sig') mismatch(`has use ${show(jwk.use)}, not "sig"`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) {
    mismatch('does not allow the "verify" operation');
  }
  if (typeof jwk.x !== 'string' || jwk.x === '') mismatch('has no public key (x)');
  const x = jwk.x as string;
  const cached = entry.imported.get(x);
  if (cached) return cached;
  let key: CryptoKey;
  try {
    // Only the public parameters are imported, whatever else the JWK carries.
    key = (await importJWK({ kty: 'OKP', crv: 'Ed25519', x }, alg)) as CryptoKey;
  } catch (cause) {
    fail('key_mismatch', `the JWKS key ${show(kid)} is not a usable Ed25519 public key`, cause);
  }
  entry.imported.set(x, key);
  return key;
}

// ---- step 8

function checkClaims(payload: AccessTokenPayload, settings: Settings): void {
  const now = settings.now() / 1000;
  const tolerance = settings.tolerance;
  const { exp, iat, auth_time } = payload as Json;

  if (!isFiniteNumber(exp) || exp <= now - tolerance)
    fail('expired', 'the token has expired (or has no exp)');
  if (!isFiniteNumber(iat) || iat > now + tolerance)
    fail('iat_future', 'the token is issued in the future (or has no iat)');
  if (!isFiniteNumber(auth_time) || auth_time > now + tolerance) {
    fail('auth_time_future', 'the token has auth_time in the future (or none)');
  }
  if (iat < auth_time)
    fail('iat_before_auth_time', 'the token was issued before its session was authenticated');

  if (payload.iss !== settings.issuer) {
    fail('issuer_mismatch', `the token's iss ${show(payload.iss)} is not ${show(settings.issuer)}`);
  }

  // aud must hold "oauth-api" and the client_id of the client the token was issued to (the option when
  // given, else the token's own client_id), plus every audience the resource server requires.
  const aud = payload.aud as unknown;
  const audList =
    typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every(isString) ? aud : undefined;
  const issuedTo = settings.clientId ?? (isString(payload.client_id) ? payload.client_id : undefined);
  const required = [OAUTH_API_AUDIENCE, ...(issuedTo === undefined ? [] : [issuedTo]), ...settings.audiences];
  const absent = audList ? required.filter((a) => !audList.includes(a)) : required;
  if (absent.length > 0) fail('audience_mismatch', `the token's aud lacks ${absent.map(show).join(', ')}`);

  if (settings.clientId !== undefined && payload.client_id !== settings.clientId) {
    fail(
      'client_id_mismatch',
      `the token's client_id ${show(payload.client_id)} is not ${show(settings.clientId)}`,
    );
  }

  const granted = isString(payload.scope) ? payload.scope.split(/\s+/).filter(Boolean) : [];
  const missing = settings.requiredScopes.filter((s) => !granted.includes(s));
  if (missing.length > 0) fail('scope_missing', `the token lacks the scope ${missing.map(show).join(', ')}`);

  const env = payload.iracing_env;
  if (env !== undefined && env !== null && env !== settings.env) {
    fail('env_mismatch', `the token's iracing_env ${show(env)} is not ${show(settings.env)}`);
  }

  const wrongType = (claim: string, expected: string): never =>
    fail('claim_type', `the token's ${claim} is not ${expected}`);
  const present = (v: unknown) => v !== undefined && v !== null;
  if (present(payload.iracing_cust_id) && !Number.isSafeInteger(payload.iracing_cust_id)) {
    wrongType('iracing_cust_id', 'an integer or null');
  }
  const groups = payload.iracing_group_ids as unknown;
  if (present(groups) && !(Array.isArray(groups) && groups.every((g) => Number.isSafeInteger(g)))) {
    wrongType('iracing_group_ids', 'an array of integers or null');
  }
  if (payload.session_id !== undefined && !isString(payload.session_id)) wrongType('session_id', 'a string');
  if (present(payload.sub) && !isString(payload.sub)) wrongType('sub', 'a string or null');
  if (payload.jti !== undefined && !isString(payload.jti)) wrongType('jti', 'a string');
  if (payload.client_id !== undefined && !isString(payload.client_id)) wrongType('client_id', 'a string');
  if (present(payload.scope) && !isString(payload.scope)) wrongType('scope', 'a string or null');
}

// ---- helpers

function fail(code: TokenVerificationErrorCode, message: string, cause?: unknown): never {
  throw new TokenVerificationError(code, message, cause === undefined ? undefined : { cause });
}

/** C0 and C1 controls, space, and any other white space. */
function hasSpaceOrControl(text: string): boolean {
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code <= 0x20 || (code >= 0x7f && code <= 0x9f) || /\s/u.test(char)) return true;
  }
  return false;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A short, quoted rendering of an untrusted value for an error message. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
