/**
 * Step 4: the jku. Without a pinned JWKS URI, an https URL without userinfo, query or fragment, on an
 * allowed host; with one, that URI.
 */
import { fail, show } from './verify-error.ts';
import type { Settings } from './verify-options.ts';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

export function checkJku(
  jku: unknown,
  settings: Pick<Settings, 'hostSuffix' | 'allowInsecureLoopback'>,
): string {
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
export function checkPinnedJku(jku: unknown, pinned: NonNullable<Settings['pinned']>): string {
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

/** C0 and C1 controls, space, and any other white space. */
function hasSpaceOrControl(text: string): boolean {
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code <= 0x20 || (code >= 0x7f && code <= 0x9f) || /\s/u.test(char)) return true;
  }
  return false;
}
