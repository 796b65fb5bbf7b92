// Browsers a user has signed in with, remembered by the browser itself: after a successful sign-in the
// browser keeps a mark, a MAC of its own browser id and the username under a server key, in an HttpOnly
// cookie. Only a browser that really signed in as the user can show the mark; the lockout
// (accounts/lockout.ts) gives such a browser its own count, so failures elsewhere cannot lock it out.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { normalizeId } from '../oauth/masking.ts';

/** Users remembered per browser: a shared family computer, not an unbounded cookie. */
const MAX_MARKS = 5;
const MARK = /^[A-Za-z0-9_-]{22}$/;

/** The key of the marks, derived from the key that signs CSRF tokens, for another purpose. */
export function knownBrowserKey(csrfKey: Buffer): Buffer {
  return createHmac('sha256', csrfKey).update('paddock known browsers').digest();
}

export function knownBrowserMark(key: Buffer, browserId: string, username: string): string {
  return createHmac('sha256', key)
    .update(`${browserId}\n${normalizeId(username)}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

/** The marks a cookie holds; anything malformed is ignored. */
export function parseMarks(cookie: string | undefined): string[] {
  return (cookie ?? '')
    .split('.')
    .filter((m) => MARK.test(m))
    .slice(0, MAX_MARKS);
}

export function hasMark(marks: readonly string[], mark: string): boolean {
  const wanted = Buffer.from(mark);
  let found = false;
  for (const m of marks) {
    const b = Buffer.from(m);
    if (b.length === wanted.length && timingSafeEqual(b, wanted)) found = true;
  }
  return found;
}

/** The marks with this one first; the oldest are forgotten past the limit. */
export function withMark(marks: readonly string[], mark: string): string[] {
  return [mark, ...marks.filter((m) => m !== mark)].slice(0, MAX_MARKS);
}
