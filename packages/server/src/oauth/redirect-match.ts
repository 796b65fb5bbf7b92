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
