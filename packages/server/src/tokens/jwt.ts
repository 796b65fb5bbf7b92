import { createHmac, type KeyObject, sign } from 'node:crypto';

/**
 * Compact JWS with EdDSA, signed by node:crypto on libuv's thread pool (the callback form of sign), so the
 * event loop hands the signature off instead of computing it: on the token endpoint it was a fifth of the
 * main thread. jose verifies what this produces (see the tests).
 */
export function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject,
): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`;
  return new Promise((resolve, reject) => {
    sign(null, Buffer.from(input), key, (err, signature) => {
      if (err) reject(err);
      else resolve(`${input}.${signature.toString('base64url')}`);
    });
  });
}

/**
 * Compact JWS with HS256 under a secret only this server holds: for tokens that only this server ever
 * verifies (it looks them up by hash), where an asymmetric signature would be work nobody checks.
 */
export function macJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret: Buffer,
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
