// PKCE (RFC 7636) as the book describes it:
// - a verifier and a challenge are 43-128 characters of A-Z a-z 0-9 - . _ ~;
// - S256: the challenge is base64url(SHA-256(verifier)) without padding; plain: they are equal;
// - code_challenge_method defaults to plain.
import { hash, timingSafeEqual } from 'node:crypto';

export type PkceMethod = 'plain' | 'S256';

export const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

export function s256(verifier: string): string {
  // A verifier is ASCII (PKCE_VALUE, checked before this is called), whose UTF-8 bytes are its ASCII ones.
  return hash('sha256', verifier, 'base64url');
}

/** True when the verifier is well formed and matches the challenge by its method. */
export function verifyPkce(method: PkceMethod, challenge: string, verifier: string): boolean {
  if (!PKCE_VALUE.test(verifier)) return false;
  const expected = Buffer.from(method === 'S256' ? s256(verifier) : verifier);
  const got = Buffer.from(challenge);
  return expected.length === got.length && timingSafeEqual(expected, got);
}
