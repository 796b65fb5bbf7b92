/**
 * Steps 5 and 6: the one key with the token's kid in the JWKS at the jku, fetched without following
 * redirects and kept in a per-verifier cache, and imported only when it fits the alg.
 */
import { importJWK } from 'jose';
import { isObject, type Json } from './json.ts';
import { isRedirect } from './redirects.ts';
import { errorMessage, fail, show } from './verify-error.ts';
import type { Settings } from './verify-options.ts';

/** JWKS sets that have verified a token, per verifier; the least recently used is forgotten beyond this. */
const MAX_PROVEN_JWKS = 32;
/**
 * JWKS sets fetched for a jku but not (yet) proven by a verified token. Kept apart, so sets named by
 * tokens that fail verification never push out one that works.
 */
const MAX_UNPROVEN_JWKS = 8;

export interface JwksEntry {
  keys: unknown[];
  fetchedAt: number;
  imported: Map<string, CryptoKey>;
}

export interface JwksCache {
  /** The one key with the kid in the JWKS at url, and the cache entry it came from (step 5). */
  keyFor(url: string, kid: string): Promise<{ jwk: Json; entry: JwksEntry }>;
  /** A token verified with the JWKS at url: that set is proven, and the most recently used. */
  verifiedWith(url: string, entry: JwksEntry): void;
}

/**
 * The JWKS sets of one verifier, per jku URL. A token's jku is attacker-supplied: without a pinned
 * jwksUri, fetches of URLs with no set yet are rate-limited, and sets that have verified a token are kept
 * apart from those that have not, so the latter never push out the former.
 */
export function createJwksCache(settings: Settings): JwksCache {
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

  return { keyFor, verifiedWith };
}

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
  if (isRedirect(response)) {
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

/** Step 6: the JWKS key, checked against the alg, imported from its public parameters only. */
export async function importVerificationKey(
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
