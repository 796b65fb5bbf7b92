import { createHmac, type KeyObject, sign } from 'node:crypto';
import { signEd25519 } from './ed25519.ts';

let offload = true;

/**
 * Whether Ed25519 signatures and their checks run on libuv's thread pool (the callback forms of node:crypto's
 * sign and verify) or on the event loop (where libsodium signs, if it loads: see ed25519.ts). Handing them
 * off pays only where a core would otherwise idle and node:crypto signs: `paddock serve` keeps them on the
 * event loop when libsodium loads, when it runs a worker per core and when it uses PostgreSQL, where the
 * pool's threads would take turns for the same cores with other workers or the database's processes, and
 * each hand-off costs a thread wake-up.
 */
export function offloadSignatures(on: boolean): void {
  offload = on;
}

export function signaturesOffloaded(): boolean {
  return offload;
}

/**
 * Compact JWS with EdDSA: by libsodium on the event loop, or by node:crypto on the event loop or the thread
 * pool (see offloadSignatures). jose verifies what this produces (see the tests).
 */
export function signJwt(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject,
): Promise<string> {
  const input = `${header64(header)}.${b64(payload)}`;
  if (!offload)
    return Promise.resolve(`${input}.${signEd25519(Buffer.from(input), key).toString('base64url')}`);
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
  const input = `${header64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** A compact JWS's header or payload as the JSON object it encodes, or undefined for anything else. */
export function jwtPart(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

// A server signs with a handful of headers (one per signing key, one for refresh tokens), the same object
// each time: a frozen one is encoded once. One that is not frozen could change, and is encoded each time.
const encodedHeaders = new WeakMap<object, string>();

function header64(header: Record<string, unknown>): string {
  let encoded = encodedHeaders.get(header);
  if (encoded === undefined) {
    encoded = b64(header);
    if (Object.isFrozen(header)) encodedHeaders.set(header, encoded);
  }
  return encoded;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
