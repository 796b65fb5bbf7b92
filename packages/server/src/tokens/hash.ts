import { hash, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

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

/**
 * Random bytes for ids, drawn from the system 2,560 at a time (as node:crypto's randomUUID does): one
 * randomFillSync per id cost 7 µs of the event loop per refresh, more than the rest of the id.
 */
const entropy = Buffer.alloc(2560);
let entropyUsed = entropy.length;

/**
 * A UUID that begins with the time it was made (version 7, RFC 9562: 48 bits of milliseconds, then 74
 * random bits; no counter, so two of one millisecond fall in any order). Rows keyed by such ids, made one
 * after another, sit side by side in their index: a group commit of new ones writes one page of it
 * instead of one page each. (The uuid package's v7 needs its version 10 or later, and its version 8 is
 * already in the tree for a development tool.)
 */
export function timeOrderedUuid(): string {
  if (entropyUsed === entropy.length) {
    randomFillSync(entropy);
    entropyUsed = 0;
  }
  const b = Buffer.allocUnsafe(16);
  entropy.copy(b, 6, entropyUsed, entropyUsed + 10);
  entropyUsed += 10;
  b.writeUIntBE(Date.now(), 0, 6);
  b[6] = 0x70 | (b[6]! & 0x0f); // version 7
  b[8] = 0x80 | (b[8]! & 0x3f); // the RFC's variant
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const TIME_ORDERED_UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The key a refresh token is stored under on SQLite when its jti is a time-ordered UUID: the 48 bits of
 * milliseconds of that jti in hex, a dot, then the token's SHA-256 hash. Undefined for any other jti
 * (tokens of earlier versions, stored under the plain hash).
 */
export function timeOrderedHash(jti: unknown, token: string): string | undefined {
  const m = typeof jti === 'string' ? TIME_ORDERED_UUID.exec(jti) : null;
  return m ? `${m[1]}${m[2]}.${sha256(token)}` : undefined;
}
