/** The client never follows a redirect: how one is recognised, and the error that reports it. */
import { OAuthError, responseDetails } from './errors.ts';

/**
 * A redirect answer: a 3xx (Node), an opaque redirect (browsers, status 0), or an answer a custom fetch
 * reached by following one anyway.
 */
export function isRedirect(res: Response): boolean {
  return res.type === 'opaqueredirect' || res.redirected || (res.status >= 300 && res.status < 400);
}

/** The error for a redirect answer to a call to /oauth2{path}: where it pointed, and why it was not followed. */
export function redirectError(res: Response, path: string): OAuthError {
  const location = res.headers.get('location');
  const to = location ? ` to ${location.length > 200 ? `${location.slice(0, 200)}...` : location}` : '';
  const what = res.redirected
    ? `was redirected${res.url ? ` to ${res.url}` : ''} by the fetch function`
    : res.type === 'opaqueredirect'
      ? 'answered with a redirect'
      : `answered ${res.status}${to}`;
  return new OAuthError('server_error', {
    ...(res.type === 'opaqueredirect' ? {} : responseDetails(res)),
    description: `/oauth2${path} ${what}; redirects are not followed, so the credentials of this call never go to another address (check the issuer URL, e.g. https and the exact host)`,
  });
}
