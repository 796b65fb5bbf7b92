import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Codes, refresh tokens and client secrets are high-entropy: a fast hash is right for storage. (The
 * one-shot `hash` of the UTF-8 bytes: half the time of a Hash object, on every token request.)
 */
export function sha256(value: string): string {
  return hash('sha256', value, 'base64url');
}

/** Compares a presented secret with a stored hash in constant time. */
export function matchesHash(presented: string, storedHash: string): boolean {
  const a = Buffer.from(sha256(presented));
  const b = Buffer.from(storedHash);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
