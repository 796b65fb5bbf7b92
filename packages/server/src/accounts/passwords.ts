import { hash, verify } from '@node-rs/argon2';

// OWASP's argon2id baseline: 19 MiB, two passes, one lane. 2 is Argon2id (the enum is const, see DESIGN).
const OPTIONS = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/** Hashes a masked password for storage. */
export function hashPassword(masked: string): Promise<string> {
  return hash(masked, OPTIONS);
}

let dummy: Promise<string> | undefined;

/**
 * Verifies a masked password. With no stored hash (unknown user) it still spends the time of one
 * verification, so response times do not tell which usernames exist.
 */
export async function verifyPassword(storedHash: string | undefined, masked: string): Promise<boolean> {
  if (storedHash === undefined) {
    dummy ??= hashPassword('paddock-unknown-user');
    await verify(await dummy, masked).catch(() => false);
    return false;
  }
  try {
    return await verify(storedHash, masked);
  } catch {
    return false;
  }
}
