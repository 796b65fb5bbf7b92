import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mask } from '../src/index.ts';

test("mask: the book's example", async () => {
  assert.equal(
    await mask('Anagram-tactics-FOOTING-OPACITY-SHONE-keenly', ' John.West@iracing.com '),
    'KIhAi2ynNPWvJsebdluGaBaPTRaUACqTPDCfyUuv46Y=',
  );
});

test('mask: non-ASCII secrets are hashed as UTF-8', async () => {
  const { createHash } = await import('node:crypto');
  const expected = createHash('sha256').update('pässwörd€user@x', 'utf8').digest('base64');
  assert.equal(await mask('pässwörd€', ' USER@x '), expected);
});
