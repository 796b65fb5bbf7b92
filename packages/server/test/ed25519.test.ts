// Access tokens are signed on the event loop by libsodium (sodium-native) where it loads. Ed25519
// signatures are deterministic (RFC 8032), so each must be byte for byte node:crypto's, for keys made
// the way the server makes and loads them.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { signEd25519 } from '../src/tokens/ed25519.ts';

describe('Ed25519 signatures', () => {
  test('libsodium loads here (else the server signs with node:crypto, twice as slow)', () => {
    const sodium = createRequire(import.meta.url)('sodium-native') as { crypto_sign_BYTES: number };
    assert.equal(sodium.crypto_sign_BYTES, 64);
  });

  test("the same bytes as node:crypto's, for keys generated and keys loaded from PEM", () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const loaded = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
      for (const key of [privateKey, loaded]) {
        const data = randomBytes(1 + i * 37);
        const signature = signEd25519(data, key);
        assert.deepEqual(signature, sign(null, data, privateKey));
        assert.ok(verify(null, data, publicKey, signature));
      }
    }
  });

  test('each key signs with its own secret, however many are in use', () => {
    const keys = Array.from({ length: 3 }, () => generateKeyPairSync('ed25519'));
    const data = Buffer.from('header.payload');
    for (const { privateKey, publicKey } of [...keys, ...[...keys].reverse()]) {
      const signature = signEd25519(data, privateKey);
      assert.ok(verify(null, data, publicKey, signature));
    }
  });

  test('another kind of key is signed by node:crypto', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed448');
    const data = Buffer.from('header.payload');
    const signature = signEd25519(data, privateKey);
    assert.equal(signature.length, 114);
    assert.ok(verify(null, data, publicKey, signature));
  });
});
