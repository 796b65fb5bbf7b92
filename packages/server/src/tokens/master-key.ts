import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import { MASTER_KEY_FILE, privateDataDir } from '../store/data-dir.ts';

/** Reads the master key from configuration, or from the data dir, creating it there on first start. */
export function loadMasterKey(config: Config): Buffer {
  if (config.masterKey) return Buffer.from(config.masterKey, 'base64');
  privateDataDir(config.dataDir);
  const file = path.join(config.dataDir, MASTER_KEY_FILE);
  if (!fs.existsSync(file)) createOnce(file, `${randomBytes(32).toString('base64')}\n`);
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file}: expected 32 bytes in base64`);
  return key;
}

/**
 * Puts a complete file in place unless one is there already, so processes starting at once agree on one
 * key and none reads a half-written one: the content is written and synced under a name of this process's
 * own, then hard-linked to the final name, which fails (EEXIST) when another process got there first.
 */
function createOnce(file: string, content: string): void {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}`,
  );
  const fd = fs.openSync(temp, 'wx', 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.unlinkSync(temp);
  }
  syncDir(path.dirname(file));
}

/** Makes the new directory entry durable, where the platform allows opening a directory. */
function syncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** AES-256-GCM, with the key id as associated data so a ciphertext cannot be moved to another key row. */
export function encrypt(masterKey: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [
    'v1',
    iv.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
    ct.toString('base64url'),
  ].join('.');
}

export function decrypt(masterKey: Buffer, sealed: string, aad: string): string {
  const [v, iv, tag, ct] = sealed.split('.');
  if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('unknown encrypted key format');
  // The full 16-byte tag only: GCM would otherwise also check a shortened one.
  const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(iv, 'base64url'), {
    authTagLength: 16,
  });
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
}

/** A key for one purpose, derived from the master key, so processes sharing it agree. */
export function deriveKey(masterKey: Buffer, purpose: string): Buffer {
  return createHmac('sha256', masterKey).update(`paddock:${purpose}`).digest();
}
