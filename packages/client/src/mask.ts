/**
 * Masks a client secret (with the client_id) or a password (with the username) before it is sent:
 * standard base64 of SHA-256 over the secret followed by the trimmed, lower-cased id.
 */
export async function mask(secret: string, id: string): Promise<string> {
  const data = new TextEncoder().encode(secret + id.trim().toLowerCase());
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}
