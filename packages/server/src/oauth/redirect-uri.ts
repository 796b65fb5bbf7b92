// The book's Redirect URI rules, checked when a client is registered:
// - at least three slashes, and no fragment;
// - https, a custom scheme (reversed domain advised), or http only when explicitly allowed;
// - the native loopback form http://127.0.0.1:0/path or http://[::1]:0/path is always http and needs
//   no flag: port 0 and an IP literal ("localhost" is refused for it).

export interface RedirectUriOptions {
  allowHttp?: boolean;
}

/** Returns why a redirect URI cannot be registered, or null when it can. */
export function redirectUriProblem(uri: string, options: RedirectUriOptions = {}): string | null {
  if (uri.includes('#')) return `redirect URI ${uri} must not have a fragment`;
  if ((uri.match(/\//g) ?? []).length < 3) {
    return `redirect URI ${uri} needs at least three slashes (e.g. https://app.example/ rather than https://app.example)`;
  }
  if (/\s/.test(uri) || hasControlCharacter(uri)) {
    return `redirect URI ${uri} must not contain white space or control characters`;
  }
  // The book's own example scheme (my_iracing_app://) has an underscore, which RFC 3986 and WHATWG URL
  // do not allow; custom schemes are therefore checked by this pattern rather than by a URL parser.
  const m = /^([A-Za-z][A-Za-z0-9+.\-_]*):/.exec(uri);
  if (!m) return `redirect URI ${uri} has no valid scheme`;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return `redirect URI ${uri} is not a valid URI`;
    }
    if (url.host === '') return `redirect URI ${uri} has no host`;
    if (url.username || url.password) return `redirect URI ${uri} must not contain user information`;
    if (scheme === 'https') return null;
    if (isLoopbackPortZero(uri)) return null;
    if (/^http:\/\/localhost:0[/?]/i.test(uri)) {
      return `redirect URI ${uri}: the native loopback form needs 127.0.0.1 or [::1], not localhost`;
    }
    if (!options.allowHttp) {
      return `redirect URI ${uri} uses http://; use https://, the native form http://127.0.0.1:0/path, or pass --allow-http`;
    }
    return null;
  }
  if (['javascript', 'data', 'file', 'vbscript', 'blob', 'about'].includes(scheme)) {
    return `redirect URI ${uri} uses the ${scheme}: scheme, which cannot be a redirect URI`;
  }
  return null;
}

/**
 * A registrable redirect URI that will trip its developer up: one naming localhost. Paddock compares
 * hosts as written, so an app that is sent back to 127.0.0.1 or [::1] (as many loopback libraries do)
 * no longer matches, and the any-port loopback form exists only for the IP literals.
 */
export function redirectUriWarning(uri: string): string | null {
  if (!/^https?:\/\/localhost[:/?]/i.test(uri)) return null;
  return (
    `redirect URI ${uri} names localhost: it matches only requests that say localhost, never 127.0.0.1 or [::1]; ` +
    'for an app on this machine, http://127.0.0.1:0/path admits any port without --allow-http'
  );
}

/** The native-application form: http, an IP loopback literal, explicit port 0. */
export function isLoopbackPortZero(uri: string): boolean {
  return /^http:\/\/(127\.0\.0\.1|\[::1\]):0\//.test(uri);
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
