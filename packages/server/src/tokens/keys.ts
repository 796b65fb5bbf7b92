import { createPrivateKey, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { type Logger, logFailure } from '../log.ts';
import type { Store } from '../store/store.ts';
import type { SigningKeyRecord } from '../store/types.ts';
import { decrypt, deriveKey, encrypt } from './master-key.ts';

export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export interface KeyStatus {
  kid: string;
  alg: string;
  created_at: number;
  activates_at: number;
  /** When a newer key took over signing, if one has. */
  superseded_at: number | null;
  /** When the key leaves the JWKS: its last tokens have expired by then. */
  retires_at: number | null;
  retired_at: number | null;
  state: 'pending' | 'active' | 'published' | 'retired';
}

/** Seconds added to the longest access-token lifetime before a superseded key leaves the JWKS. */
export const RETIRE_GRACE = 60;
export const DEFAULT_ACCESS_TOKEN_TTL = 600;

export function newSigningKey(
  masterKey: Buffer,
  now: number,
  activatesAt: number,
  kid: string = randomUUID(),
): SigningKeyRecord {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'jwk' }) as { x: string };
  const jwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: pub.x, kid, alg: 'EdDSA', use: 'sig' };
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    kid,
    alg: 'EdDSA',
    public_jwk: JSON.stringify(jwk),
    private_key: encrypt(masterKey, pem, kid),
    created_at: now,
    activates_at: activatesAt,
    retired_at: null,
  };
}

/** The kid of the key a process creates when it finds none usable: the same in every process. */
function startingKid(masterKey: Buffer, ordinal: number): string {
  const b = deriveKey(masterKey, `signing-key:${ordinal}`).subarray(0, 16);
  // Shaped as a UUID (version 8: custom) like the kids of rotated keys; it reveals nothing of the master key.
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Works out each key's place in its life from the table alone, so every process reaches the same answer. */
export function keyStatuses(
  keys: readonly SigningKeyRecord[],
  now: number,
  maxAccessTtl: number,
): KeyStatus[] {
  const started = keys.filter((k) => k.activates_at <= now && k.retired_at == null);
  const active = latest(started);
  return keys.map((k) => {
    const successor = keys
      .filter((o) => o !== k && o.retired_at == null && o.activates_at <= now && later(o, k))
      .sort((a, b) => a.activates_at - b.activates_at)[0];
    const superseded_at = successor ? successor.activates_at : null;
    const retires_at = superseded_at == null ? null : superseded_at + maxAccessTtl + RETIRE_GRACE;
    let state: KeyStatus['state'];
    if (k.retired_at != null) state = 'retired';
    else if (k.activates_at > now) state = 'pending';
    else if (k === active) state = 'active';
    else state = 'published';
    return {
      kid: k.kid,
      alg: k.alg,
      created_at: k.created_at,
      activates_at: k.activates_at,
      superseded_at,
      retires_at,
      retired_at: k.retired_at,
      state,
    };
  });
}

function later(a: SigningKeyRecord, b: SigningKeyRecord): boolean {
  return a.activates_at > b.activates_at || (a.activates_at === b.activates_at && a.kid > b.kid);
}

function latest(keys: readonly SigningKeyRecord[]): SigningKeyRecord | undefined {
  let best: SigningKeyRecord | undefined;
  for (const k of keys) if (!best || later(k, best)) best = k;
  return best;
}

/**
 * The signing keys as one process sees them. It reloads the table every few seconds, and the active
 * key is a function of the table and the time, so processes sharing a database switch together.
 */
export class KeyRing {
  private keys: SigningKeyRecord[] = [];
  private readonly privateKeys = new Map<string, KeyObject>();
  private jwksBody = '{"keys":[]}';
  private timer: NodeJS.Timeout | undefined;
  private maxAccessTtl = DEFAULT_ACCESS_TOKEN_TTL;
  /** How many keys the table held at the last reload, retired ones included (rows are never deleted). */
  private keysEverHeld = 0;

  constructor(
    private readonly store: Store,
    private readonly masterKey: Buffer,
    private readonly nowSeconds: () => number,
  ) {}

  /** Loads the keys, creating the first one when there is none that can sign. */
  async init(): Promise<void> {
    await this.reload();
    if (!this.activeKey()) {
      const now = this.nowSeconds();
      const pending = this.keys.some((k) => k.retired_at == null && k.activates_at > now);
      if (!pending) {
        // Processes starting at once on a table with no usable key would each add one. They all derive
        // the same kid (from the master key they share and how many keys the table has ever held), so
        // the primary key lets exactly one insert through and the others load the winner's key.
        const kid = startingKid(this.masterKey, this.keysEverHeld);
        await this.store.signingKeys.insertIfAbsent(newSigningKey(this.masterKey, now, now, kid));
        await this.reload();
      }
    }
  }

  /** Reloads every few seconds; a failed reload is logged, and the keys already loaded keep signing. */
  startRefreshing(intervalSeconds: number, log: Logger): void {
    const failed = logFailure(log, 'reloading the signing keys failed');
    this.timer = setInterval(() => {
      this.reload().catch(failed);
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Re-reads the table and retires keys whose last tokens have expired. */
  async reload(): Promise<void> {
    const now = this.nowSeconds();
    this.maxAccessTtl = Math.max((await this.store.maxAccessTokenTtl()) ?? 0, DEFAULT_ACCESS_TOKEN_TTL);
    let keys = await this.store.signingKeys.list();
    let retiredAny = false;
    for (const s of keyStatuses(keys, now, this.maxAccessTtl)) {
      if (s.retired_at == null && s.retires_at != null && s.retires_at <= now) {
        retiredAny = (await this.store.signingKeys.retire(s.kid, now)) || retiredAny;
      }
    }
    if (retiredAny) keys = await this.store.signingKeys.list();
    this.keysEverHeld = keys.length;
    this.keys = keys.filter((k) => k.retired_at == null);
    for (const k of this.keys) {
      if (!this.privateKeys.has(k.kid)) {
        this.privateKeys.set(k.kid, createPrivateKey(this.unseal(k)));
      }
    }
    for (const kid of this.privateKeys.keys()) {
      if (!this.keys.some((k) => k.kid === kid)) this.privateKeys.delete(kid);
    }
    this.jwksBody = JSON.stringify({ keys: this.keys.map((k) => JSON.parse(k.public_jwk) as PublicJwk) });
  }

  private unseal(k: SigningKeyRecord): string {
    try {
      return decrypt(this.masterKey, k.private_key, k.kid);
    } catch {
      throw new Error(
        `signing key ${k.kid} cannot be decrypted: this process's master key (PADDOCK_MASTER_KEY or master.key in the data dir) is not the one the key was sealed with`,
      );
    }
  }

  /** The key that signs now: the newest whose activation time has come. */
  activeKey(): { kid: string; key: KeyObject } | undefined {
    const k = latest(this.keys.filter((x) => x.activates_at <= this.nowSeconds()));
    if (!k) return undefined;
    return { kid: k.kid, key: this.privateKeys.get(k.kid)! };
  }

  /** The serialized JWKS: every key not yet retired, pending ones included so caches see them first. */
  jwks(): string {
    return this.jwksBody;
  }

  publicJwk(kid: string): PublicJwk | undefined {
    const k = this.keys.find((x) => x.kid === kid);
    return k && (JSON.parse(k.public_jwk) as PublicJwk);
  }
}

/** A new key always activates after every existing one, so "newest" is never decided by a tie. */
export async function rotateKey(
  store: Store,
  masterKey: Buffer,
  now: number,
  delay: number,
): Promise<SigningKeyRecord> {
  const latestStart = Math.max(-Infinity, ...(await store.signingKeys.list()).map((k) => k.activates_at));
  const key = newSigningKey(masterKey, now, Math.max(now + delay, latestStart + 1));
  await store.signingKeys.insert(key);
  return key;
}
