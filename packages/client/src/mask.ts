import { base64, sha256 } from './encoding.ts';

/**
 * Masks a client secret (with the client_id) or a password (with the username) before it is sent:
 * standard base64 of SHA-256 over the secret followed by the trimmed, lower-cased id.
 */
export async function mask(secret: string, id: string): Promise<string> {
  return base64(await sha256(secret + id.trim().toLowerCase()));
}
