// PKCE, state, the /authorize address and the callback: pure functions, checked against the RFC's
// example, the book's rules, and a statistical test that would catch a modulo-biased verifier.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, mock, test } from 'node:test';
import {
  authorizeUrl,
  codeChallengeS256,
  generateCodeVerifier,
  generateState,
  isValidCodeVerifier,
  isValidPkcePair,
  OAuthClient,
  OAuthError,
  parseCallback,
  VERIFIER_CHARSET,
} from '../src/index.ts';

const CHARSET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

describe('generateCodeVerifier', () => {
  test('the charset is the 66 unreserved characters', () => {
    assert.equal(VERIFIER_CHARSET, CHARSET);
    assert.equal(new Set(VERIFIER_CHARSET).size, 66);
  });

  test('defaults to 128 characters from the allowed set; any length from 43 to 128', () => {
    const v = generateCodeVerifier();
    assert.equal(v.length, 128);
    assert.match(v, /^[A-Za-z0-9\-._~]{128}$/);
    for (const n of [43, 44, 64, 100, 127, 128]) {
      const w = generateCodeVerifier(n);
      assert.equal(w.length, n);
      assert.ok(isValidCodeVerifier(w));
    }
    assert.notEqual(generateCodeVerifier(), generateCodeVerifier());
  });

  test('throws RangeError outside 43..128', () => {
    for (const n of [0, 42, 129, 1000, -1, 43.5, Number.NaN]) {
      assert.throws(() => generateCodeVerifier(n), RangeError, String(n));
    }
  });

  test('discards random bytes at or above 198 instead of reducing them modulo 66', () => {
    // Bytes fed to the generator, in order: 198..255 must be skipped; the rest map to CHARSET[byte % 66].
    const feed = [198, 255, 0, 65, 66, 131, 132, 197, 200, 25, 26, 51, 52, 61, 62, 63, 64];
    const expected = [0, 65, 66, 131, 132, 197, 25, 26, 51, 52, 61, 62, 63, 64].map((b) => CHARSET[b % 66]);
    let next = 0;
    const m = mock.method(crypto, 'getRandomValues', <T extends ArrayBufferView | null>(array: T): T => {
      const bytes = array as unknown as Uint8Array;
      // After the scripted bytes, keep giving 0 ('A').
      for (let i = 0; i < bytes.length; i++) bytes[i] = next < feed.length ? feed[next++]! : 0;
      return array;
    });
    try {
      const v = generateCodeVerifier(43);
      assert.equal(v.slice(0, expected.length), expected.join(''));
      assert.equal(v.slice(expected.length), 'A'.repeat(43 - expected.length));
    } finally {
      m.mock.restore();
    }
  });

  /** Whether every character's count is within 6 standard deviations of the uniform count. */
  function uniform(sample: string): { ok: boolean; worst: string } {
    const counts = new Map<string, number>([...CHARSET].map((c) => [c, 0]));
    for (const c of sample) counts.set(c, (counts.get(c) ?? 0) + 1);
    const n = sample.length;
    const mean = n / 66;
    const sd = Math.sqrt(n * (1 / 66) * (65 / 66));
    let worst = '';
    let worstZ = 0;
    for (const [c, k] of counts) {
      const z = Math.abs(k - mean) / sd;
      if (z > worstZ) [worst, worstZ] = [`${c}: ${k} vs ${mean.toFixed(0)} (${z.toFixed(1)} sd)`, z];
    }
    return { ok: counts.size === 66 && worstZ < 6, worst };
  }

  test('no modulo bias: over 200,000 characters each of the 66 is within 6 sd of the uniform count', () => {
    let sample = '';
    while (sample.length < 200_000) sample += generateCodeVerifier(128);
    const r = uniform(sample);
    assert.ok(r.ok, r.worst);

    // The same check catches the classic mistake (byte % 66, no rejection): characters 58..65 come up
    // 3/256 of the time instead of 1/66.
    const bytes = new Uint8Array(200_000);
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    const biased = Array.from(bytes, (b) => CHARSET[b % 66]).join('');
    assert.equal(uniform(biased).ok, false, 'the check detects a biased generator');
  });
});

describe('code challenge', () => {
  test("RFC 7636 appendix B's example", async () => {
    assert.equal(
      await codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  test('is base64url of SHA-256 without padding, for any verifier', async () => {
    for (let i = 0; i < 20; i++) {
      const v = generateCodeVerifier(43 + i * 4);
      const c = await codeChallengeS256(v);
      assert.equal(c, createHash('sha256').update(v).digest('base64url'));
      assert.match(c, /^[A-Za-z0-9_-]{43}$/);
    }
  });

  test('refuses something that is not a verifier', async () => {
    await assert.rejects(codeChallengeS256('short'), RangeError);
    await assert.rejects(codeChallengeS256(`${'a'.repeat(50)} `), RangeError);
  });

  test('isValidCodeVerifier follows the book', () => {
    assert.ok(isValidCodeVerifier('a'.repeat(43)));
    assert.ok(isValidCodeVerifier('~._-'.repeat(32)));
    assert.ok(!isValidCodeVerifier('a'.repeat(42)));
    assert.ok(!isValidCodeVerifier('a'.repeat(129)));
    assert.ok(!isValidCodeVerifier(`${'a'.repeat(42)}+`));
    assert.ok(!isValidCodeVerifier(`${'a'.repeat(42)}=`));
    assert.ok(!isValidCodeVerifier(`${'a'.repeat(42)}é`));
    assert.ok(!isValidCodeVerifier(`${'a'.repeat(43)}\n`));
  });

  test('isValidPkcePair: S256 (the default) and plain', async () => {
    const v = generateCodeVerifier();
    const c = await codeChallengeS256(v);
    assert.equal(await isValidPkcePair(v, c), true);
    assert.equal(await isValidPkcePair(v, c, 'S256'), true);
    const altered = c.slice(0, -1) + (c.endsWith('A') ? 'B' : 'A');
    assert.equal(await isValidPkcePair(v, altered), false);
    assert.equal(await isValidPkcePair(generateCodeVerifier(), c), false);
    assert.equal(await isValidPkcePair(v, v, 'plain'), true);
    assert.equal(await isValidPkcePair(v, c, 'plain'), false);
    assert.equal(await isValidPkcePair('bad', 'bad', 'plain'), false);
    assert.equal(await isValidPkcePair(v, c, 'S512' as 'S256'), false);
  });
});

describe('state', () => {
  test('32 random bytes as base64url', () => {
    const s = generateState();
    assert.match(s, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(s, 'base64url').length, 32);
    assert.notEqual(generateState(), s);
  });
});

describe('authorizeUrl', () => {
  test("the book's parameters, percent-encoded, below the issuer's /oauth2", () => {
    const url = authorizeUrl({
      issuer: 'https://auth.example/base/',
      clientId: 'lap-timer',
      redirectUri: 'https://app.example/cb?flow=one',
      scope: ['iracing.auth', 'iracing.profile'],
      state: 'a b&c=d',
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      prompt: 'verify',
    });
    const u = new URL(url);
    assert.equal(`${u.origin}${u.pathname}`, 'https://auth.example/base/oauth2/authorize');
    assert.deepEqual(
      [...u.searchParams],
      [
        ['client_id', 'lap-timer'],
        ['redirect_uri', 'https://app.example/cb?flow=one'],
        ['response_type', 'code'],
        ['code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'],
        ['code_challenge_method', 'S256'],
        ['state', 'a b&c=d'],
        ['scope', 'iracing.auth iracing.profile'],
        ['prompt', 'verify'],
      ],
    );
    assert.ok(url.includes('scope=iracing.auth%20iracing.profile'), 'a space is %20');
    assert.ok(url.includes('redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fflow%3Done'));
  });

  test('a string scope, the plain method; no scope or prompt when not given', () => {
    const u = new URL(
      authorizeUrl({
        issuer: 'http://127.0.0.1:4000',
        clientId: 'c',
        redirectUri: 'http://127.0.0.1:0/callback',
        scope: 'iracing.profile',
        state: 's',
        codeChallenge: 'x'.repeat(43),
        codeChallengeMethod: 'plain',
      }),
    );
    assert.equal(u.pathname, '/oauth2/authorize');
    assert.equal(u.searchParams.get('scope'), 'iracing.profile');
    assert.equal(u.searchParams.get('code_challenge_method'), 'plain');
    assert.equal(u.searchParams.has('prompt'), false);
    const none = new URL(
      authorizeUrl({
        issuer: 'http://x.example',
        clientId: 'c',
        redirectUri: 'r',
        state: 's',
        codeChallenge: 'c',
      }),
    );
    assert.equal(none.searchParams.has('scope'), false);
  });

  test('OAuthClient.authorizeUrl fills in the issuer and client id', () => {
    const client = new OAuthClient({ issuer: 'https://auth.example', clientId: 'lap-timer' });
    const u = new URL(
      client.authorizeUrl({ redirectUri: 'https://app.example/cb', state: 's', codeChallenge: 'c' }),
    );
    assert.equal(u.href.split('?')[0], 'https://auth.example/oauth2/authorize');
    assert.equal(u.searchParams.get('client_id'), 'lap-timer');
  });

  test('refuses an issuer that is not an http(s) URL', () => {
    const base = { clientId: 'c', redirectUri: 'r', state: 's', codeChallenge: 'c' };
    assert.throws(() => authorizeUrl({ ...base, issuer: 'auth.example' }), TypeError);
    assert.throws(() => authorizeUrl({ ...base, issuer: 'ftp://auth.example' }), TypeError);
    assert.throws(() => authorizeUrl({ ...base, issuer: 'https://auth.example/?x=1' }), TypeError);
  });
});

describe('parseCallback', () => {
  const cb = 'https://app.example/cb';

  test('returns the code and state when the state matches', () => {
    assert.deepEqual(parseCallback(`${cb}?code=abc&state=s%201`, 's 1'), { code: 'abc', state: 's 1' });
    assert.deepEqual(parseCallback(new URL(`${cb}?state=xyz&code=abc`), 'xyz'), {
      code: 'abc',
      state: 'xyz',
    });
    assert.deepEqual(parseCallback('/callback?code=abc&state=xyz', 'xyz'), { code: 'abc', state: 'xyz' });
    assert.deepEqual(parseCallback(`${cb}?code=abc`, undefined), { code: 'abc' });
    // A registered query comes back along with the code.
    assert.deepEqual(parseCallback(`${cb}?flow=one&code=abc&state=xyz`, 'xyz'), {
      code: 'abc',
      state: 'xyz',
    });
  });

  function rejects(url: string, expected: string | undefined, error: string, description?: RegExp) {
    assert.throws(
      () => parseCallback(url, expected),
      (e: unknown) => {
        assert.ok(e instanceof OAuthError, String(e));
        assert.equal(e.error, error);
        if (description) assert.match(e.description ?? '', description);
        return true;
      },
    );
  }

  test('state_mismatch when the state differs in any way', () => {
    rejects(`${cb}?code=abc&state=xyz`, 'xyZ', 'state_mismatch');
    rejects(`${cb}?code=abc&state=xyz%20`, 'xyz', 'state_mismatch');
    rejects(`${cb}?code=abc`, 'xyz', 'state_mismatch', /no state/);
    rejects(`${cb}?code=abc&state=`, 'xyz', 'state_mismatch');
    rejects(`${cb}?code=abc&state=xyz`, undefined, 'state_mismatch', /none was sent/);
    rejects(`${cb}?code=abc&state=xyz&state=xyz`, 'xyz', 'state_mismatch');
    // A forged error redirect is a state mismatch too: the state is checked first.
    rejects(`${cb}?error=access_denied&state=other`, 'xyz', 'state_mismatch');
  });

  test('iss (RFC 9207): ignored unless an issuer is expected, then required and compared exactly', () => {
    const iss = encodeURIComponent('https://auth.example');
    assert.deepEqual(parseCallback(`${cb}?code=abc&state=xyz&iss=${iss}`, 'xyz'), {
      code: 'abc',
      state: 'xyz',
    });
    const expecting = { issuer: 'https://auth.example/' };
    assert.deepEqual(parseCallback(`${cb}?code=abc&state=xyz&iss=${iss}`, 'xyz', expecting), {
      code: 'abc',
      state: 'xyz',
    });
    const mismatch = (url: string) =>
      assert.throws(
        () => parseCallback(url, 'xyz', expecting),
        (e: unknown) => e instanceof OAuthError && e.error === 'issuer_mismatch',
      );
    mismatch(`${cb}?code=abc&state=xyz`);
    mismatch(`${cb}?code=abc&state=xyz&iss=${encodeURIComponent('https://evil.example')}`);
    mismatch(`${cb}?code=abc&state=xyz&iss=${iss}&iss=${iss}`);
    // An error from another issuer is not believed either: the mix-up is reported, not the error.
    mismatch(`${cb}?error=access_denied&state=xyz&iss=${encodeURIComponent('https://evil.example')}`);
  });

  test("an error callback throws the server's error, description and uri", () => {
    const url =
      `${cb}?error=access_denied&error_description=The%20user%20denied%20the%20request.` +
      `&error_uri=https%3A%2F%2Fauth.example%2Foauth2%2Fbook%2Ferror_access_denied.html&state=xyz`;
    assert.throws(
      () => parseCallback(url, 'xyz'),
      (e: unknown) => {
        assert.ok(e instanceof OAuthError);
        assert.equal(e.error, 'access_denied');
        assert.equal(e.description, 'The user denied the request.');
        assert.equal(e.uri, 'https://auth.example/oauth2/book/error_access_denied.html');
        assert.equal(e.message, 'access_denied: The user denied the request.');
        assert.equal(e.name, 'OAuthError');
        assert.ok(e instanceof Error);
        return true;
      },
    );
    rejects(`${cb}?error=server_error&code=abc&state=xyz`, 'xyz', 'server_error');
  });

  test('invalid_callback without a code', () => {
    rejects(`${cb}?state=xyz`, 'xyz', 'invalid_callback', /no code/);
    rejects(`${cb}?code=&state=xyz`, 'xyz', 'invalid_callback');
    rejects(`${cb}?code=a&code=b&state=xyz`, 'xyz', 'invalid_callback');
  });
});

describe('the isomorphic entry', () => {
  test('src/index.ts and what it imports use no Node-only module or global', () => {
    const src = path.join(import.meta.dirname, '../src');
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = fs.readFileSync(path.join(src, file), 'utf8');
      for (const [, spec] of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/g)) {
        if (spec!.startsWith('./')) visit(spec!.slice(2));
        else assert.equal(spec, 'jose', `${file} imports ${spec}`);
      }
      const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      assert.doesNotMatch(code, /\b(Buffer|process|require|__dirname)\b/, `${file} uses a Node global`);
    };
    visit('index.ts');
    assert.ok(seen.has('client.ts') && seen.has('token-manager.ts') && seen.has('pkce.ts'));
    assert.ok(!seen.has('node.ts'));
  });
});
