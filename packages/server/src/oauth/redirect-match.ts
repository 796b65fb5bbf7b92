// Matching the redirect_uri of a request with the registered ones (the book's General Rules and its
// Native Application Support):
// - byte for byte, query and explicit port included: an implicit port never matches an explicit one;
// - a registered http://127.0.0.1:0/path (or [::1]) matches the same host, path and query on any port.

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\]):([1-9][0-9]{0,4})([/?].*)$/s;

export function matchRedirectUri(registered: readonly string[], given: string): boolean {
  if (registered.includes(given)) return true;
  const m = LOOPBACK.exec(given);
  if (!m || Number(m[2]) > 65535) return false;
  return registered.includes(`http://${m[1]}:0${m[3]}`);
}

/** Why a redirect_uri matches no registered one: the closest registered URI and how it differs. */
export interface RedirectMismatch {
  reason: 'redirect_localhost_vs_loopback' | 'redirect_port_mismatch' | 'redirect_unregistered';
  description: string;
}

const PARTS = /^(https?):\/\/(\[[^\]]*\]|[^/:?#]*)(?::([0-9]*))?([/?].*)?$/is;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

function parts(uri: string) {
  const m = PARTS.exec(uri);
  if (!m) return undefined;
  return { scheme: m[1]!.toLowerCase(), host: m[2]!.toLowerCase(), port: m[3], rest: m[4] ?? '' };
}

/**
 * Explains a redirect_uri that matchRedirectUri refused, for the two slips new client developers make
 * most: localhost where the registration says 127.0.0.1 or [::1] (or the reverse), and another port.
 */
export function redirectMismatch(registered: readonly string[], given: string): RedirectMismatch {
  const g = parts(given);
  for (const uri of g ? registered : []) {
    const r = parts(uri);
    if (!r || !g || r.scheme !== g.scheme || r.rest !== g.rest) continue;
    const localhostSwap =
      (g.host === 'localhost' && LOOPBACK_HOSTS.has(r.host)) ||
      (r.host === 'localhost' && LOOPBACK_HOSTS.has(g.host));
    if (localhostSwap) {
      const anyPort =
        r.port === '0' ? ` (its port 0 admits any port, for ${r.host} only, never localhost)` : '';
      return {
        reason: 'redirect_localhost_vs_loopback',
        description:
          `redirect_uri uses ${g.host} but the registered redirect URI ${uri} uses ${r.host}${anyPort}: ` +
          `localhost and ${g.host === 'localhost' ? r.host : g.host} are different hosts here; send ${r.host}`,
      };
    }
    if (r.host === g.host && r.port !== g.port) {
      const hint = LOOPBACK_HOSTS.has(r.host)
        ? `; register http://${r.host}:0${r.rest} to admit any port on ${r.host}`
        : '';
      return {
        reason: 'redirect_port_mismatch',
        description: `redirect_uri differs from the registered redirect URI ${uri} at the port${hint}`,
      };
    }
  }
  return {
    reason: 'redirect_unregistered',
    description: 'redirect_uri does not match a redirect URI registered to this client',
  };
}

/** Appends response parameters to a redirect URI, leaving its own query exactly as registered. */
export function withParams(redirectUri: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v);
  const encoded = q.toString().replace(/\+/g, '%20');
  return redirectUri + (redirectUri.includes('?') ? '&' : '?') + encoded;
}

/** What a CSP form-action must allow for a redirect to this URI: its origin, or its custom scheme. */
export function formActionSource(redirectUri: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.\-_]*):/.exec(redirectUri)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') return new URL(redirectUri).origin;
  return `${scheme}:`;
}
