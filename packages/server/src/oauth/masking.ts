import { hash } from 'node:crypto';

/**
 * The book's masking of client secrets and user passwords: SHA-256 over the secret followed by the
 * trimmed, lower-cased id (client_id or username), encoded as standard base64 with padding.
 */
export function mask(secret: string, id: string): string {
  return hash('sha256', secret + normalizeId(id), 'base64');
}

export function normalizeId(id: string): string {
  return id.trim().toLowerCase();
}

/** A masked value is 44 characters of standard base64 ending in one '='. */
export function looksMasked(value: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(value);
}
