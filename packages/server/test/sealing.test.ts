// Signing keys are sealed with AES-256-GCM under the master key. A sealed value opens only with the
// full 16-byte authentication tag: GCM also verifies a shortened tag, which would let a forger get by
// with far fewer tries.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { decrypt, encrypt } from '../src/tokens/master-key.ts';

describe('sealed signing keys', () => {
  const key = randomBytes(32);
  const sealed = encrypt(key, 'private key material', 'kid-1');

  test('open with the master key and the same key id', () => {
    assert.equal(decrypt(key, sealed, 'kid-1'), 'private key material');
    assert.throws(() => decrypt(key, sealed, 'kid-2'));
    assert.throws(() => decrypt(randomBytes(32), sealed, 'kid-1'));
  });

  test('a truncated authentication tag is refused, even the true tag cut short', () => {
    const [v, iv, tag, ct] = sealed.split('.');
    const full = Buffer.from(tag!, 'base64url');
    assert.equal(full.length, 16);
    for (const length of [4, 8, 12, 15]) {
      const cut = [v, iv, full.subarray(0, length).toString('base64url'), ct].join('.');
      assert.throws(() => decrypt(key, cut, 'kid-1'), `a ${length}-byte tag`);
    }
  });
});
