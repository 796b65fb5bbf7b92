/**
 * PKCE (RFC 7636) as the book asks for it: a code verifier of 43 to 128 characters drawn from
 * `A-Z a-z 0-9 - . _ ~`, and its S256 challenge (base64url of SHA-256, no padding).
 */
import { base64url, randomBytes, sha256 } from './encoding.ts';

/** The 66 characters a code verifier may use. */
export const VERIFIER_CHARSET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
// Bytes at or above 198 = 3 * 66 are discarded, so that `byte % 66` is uniform over the 66 characters.
const ACCEPT_BELOW = 3 * VERIFIER_CHARSET.length;

export type CodeChallengeMethod = 'S256' | 'plain';

/**
 * A new random code verifier of `length` characters (43 to 128; the book prefers the maximum).
 * Each character is uniform over the 66 allowed ones: random bytes are drawn from WebCrypto and those
 * that would bias the choice are rejected rather than reduced modulo 66.
 */
export function generateCodeVerifier(length = 128): string {
  if (!Number.isInteger(length) || length < 43 || length > 128) {
    throw new RangeError(`a code verifier has 43 to 128 characters, not ${length}`);
  }
  let out = '';
  while (out.length < length) {
    // About 77% of bytes are kept; ask for a little more than needed so one round usually suffices.
    for (const byte of randomBytes(Math.ceil((length - out.length) * 1.4) + 8)) {
      if (byte >= ACCEPT_BELOW) continue;
      out += VERIFIER_CHARSET[byte % VERIFIER_CHARSET.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Whether `verifier` is a well-formed code verifier: 43 to 128 of the allowed characters. */
export function isValidCodeVerifier(verifier: string): boolean {
  return typeof verifier === 'string' && VERIFIER.test(verifier);
}

/** The S256 code challenge of a verifier: base64url (no padding) of its SHA-256. */
export async function codeChallengeS256(verifier: string): Promise<string> {
  if (!isValidCodeVerifier(verifier)) {
    throw new RangeError('not a code verifier: it must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~');
  }
  return base64url(await sha256(verifier));
}

/** Whether the server would accept this verifier for this challenge. */
export async function isValidPkcePair(
  verifier: string,
  challenge: string,
  method: CodeChallengeMethod = 'S256',
): Promise<boolean> {
  if (!isValidCodeVerifier(verifier) || typeof challenge !== 'string') return false;
  if (method === 'plain') return verifier === challenge;
  if (method === 'S256') return (await codeChallengeS256(verifier)) === challenge;
  return false;
}
