import { type KeyObject, sign } from 'node:crypto';
import { createRequire } from 'node:module';

/** The part of sodium-native (libsodium) that signs. */
interface Sodium {
  crypto_sign_BYTES: number;
  crypto_sign_PUBLICKEYBYTES: number;
  crypto_sign_SECRETKEYBYTES: number;
  crypto_sign_seed_keypair(publicKey: Buffer, secretKey: Buffer, seed: Buffer): void;
  crypto_sign_detached(signature: Buffer, message: Buffer, secretKey: Buffer): void;
  sodium_malloc(size: number): Buffer;
}

/** An Ed25519 private key in PKCS #8 DER: this fixed prefix, then the 32-byte seed (RFC 8410). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// Loaded at the first signature, not at start-up: the CLI's commands that sign nothing do not pay for it.
let sodium: Sodium | null | undefined;

function loadSodium(): Sodium | null {
  if (sodium === undefined) {
    try {
      sodium = createRequire(import.meta.url)('sodium-native') as Sodium;
    } catch {
      // No build of the addon for this platform: node:crypto signs instead.
      sodium = null;
    }
  }
  return sodium;
}

/** Whether libsodium signs here (its addon loads). */
export function libsodiumLoads(): boolean {
  return loadSodium() !== null;
}

// libsodium's form of each private key, in memory of its own (guarded, kept out of swap where the
// system allows, zeroed when freed), for as long as the key object lives.
const secretKeys = new WeakMap<KeyObject, Buffer>();

function secretKeyOf(s: Sodium, key: KeyObject): Buffer | undefined {
  let secretKey = secretKeys.get(key);
  if (secretKey) return secretKey;
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') return undefined;
  const der = key.export({ format: 'der', type: 'pkcs8' });
  try {
    if (der.length !== PKCS8_PREFIX.length + 32 || !der.subarray(0, PKCS8_PREFIX.length).equals(PKCS8_PREFIX))
      return undefined;
    secretKey = s.sodium_malloc(s.crypto_sign_SECRETKEYBYTES);
    s.crypto_sign_seed_keypair(
      Buffer.alloc(s.crypto_sign_PUBLICKEYBYTES),
      secretKey,
      der.subarray(PKCS8_PREFIX.length),
    );
  } finally {
    der.fill(0);
  }
  secretKeys.set(key, secretKey);
  return secretKey;
}

/**
 * The Ed25519 signature of data under key, on the calling thread. libsodium signs where its addon loads,
 * in half the time node:crypto (OpenSSL) takes on the machines measured; node:crypto signs otherwise,
 * and for any other kind of key. Ed25519 signatures are deterministic (RFC 8032): both give the same
 * bytes for the same key and data.
 */
export function signEd25519(data: Buffer, key: KeyObject): Buffer {
  const s = loadSodium();
  const secretKey = s && secretKeyOf(s, key);
  if (!s || !secretKey) return sign(null, data, key);
  const signature = Buffer.allocUnsafe(s.crypto_sign_BYTES);
  s.crypto_sign_detached(signature, data, secretKey);
  return signature;
}
