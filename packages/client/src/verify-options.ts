/** The verifier's options, checked once and turned into the settings every verification reads. */

import { errorMessage, show } from './verify-error.ts';
import { checkJku } from './verify-jku.ts';

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

/** The options, checked, with their defaults filled in. */
export interface Settings {
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

export function settingsFrom(options: VerifyOptions): Settings {
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

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
