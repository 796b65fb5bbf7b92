import type { Queryable } from './db.ts';
import type { SigningKeyRecord } from './types.ts';

/** Signing keys: the public half published in the JWKS, the private half sealed with the master key. */
export class SigningKeyStore {
  constructor(private readonly q: Queryable) {}

  async list(): Promise<SigningKeyRecord[]> {
    return this.q.all<SigningKeyRecord>('SELECT * FROM signing_keys ORDER BY activates_at, kid');
  }

  async insert(k: SigningKeyRecord): Promise<void> {
    await this.q.run(
      `INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, activates_at, retired_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [k.kid, k.alg, k.public_jwk, k.private_key, k.created_at, k.activates_at, k.retired_at],
    );
  }

  /** Inserts a key unless one with its kid exists; returns whether it was inserted. */
  async insertIfAbsent(k: SigningKeyRecord): Promise<boolean> {
    return (
      (await this.q.run(
        `INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at, activates_at, retired_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kid) DO NOTHING`,
        [k.kid, k.alg, k.public_jwk, k.private_key, k.created_at, k.activates_at, k.retired_at],
      )) === 1
    );
  }

  /** Retires a key and forgets its private half. */
  async retire(kid: string, now: number): Promise<boolean> {
    return (
      (await this.q.run(
        "UPDATE signing_keys SET retired_at = ?, private_key = '' WHERE kid = ? AND retired_at IS NULL",
        [now, kid],
      )) === 1
    );
  }
}
