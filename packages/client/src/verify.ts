/**
 * Access token verification for resource servers: every step of the book's "Validation and
 * Verification" (Tokens → Access Token → Advanced Use), in the book's order, each failing with its own
 * `code`. Isomorphic: WebCrypto (through jose) and fetch only, so it runs in Node 20+ and browsers.
 * See VERIFY.md for usage, the options and every error code.
 */
import { compactVerify, type JWTHeaderParameters } from 'jose';
import { type AccessTokenPayload, checkClaims } from './verify-claims.ts';
import { parseCompact, parseJsonObject } from './verify-compact.ts';
import { errorMessage, fail, show } from './verify-error.ts';
import { checkJku, checkPinnedJku } from './verify-jku.ts';
import { createJwksCache, importVerificationKey } from './verify-jwks.ts';
import { settingsFrom, type VerifyOptions } from './verify-options.ts';

export type { AccessTokenPayload } from './verify-claims.ts';
export { TokenVerificationError, type TokenVerificationErrorCode } from './verify-error.ts';
export type { VerifyOptions } from './verify-options.ts';

/** The only algorithm this implementation supports (the book: "typically EdDSA"). */
const SUPPORTED_ALG = 'EdDSA';

/** The verified protected header. */
export interface AccessTokenHeader extends JWTHeaderParameters {
  kid: string;
  alg: 'EdDSA';
  jku: string;
}

export interface VerifiedAccessToken {
  header: AccessTokenHeader;
  payload: AccessTokenPayload;
}

/**
 * Verifies one access token. It keeps no JWKS between calls, so each call fetches the JWKS: a resource
 * server should hold one `createVerifier(options)` instead.
 */
export async function verifyAccessToken(token: string, options: VerifyOptions): Promise<VerifiedAccessToken> {
  return createVerifier(options)(token);
}

/**
 * A verifier for many tokens, sharing one JWKS cache (per jku URL) across its calls. Tokens are
 * attacker-supplied, and so is their jku: without a pinned jwksUri, fetches of jku URLs it has no JWKS
 * for are rate-limited, and a JWKS that has verified tokens is only ever replaced by another that has.
 */
export function createVerifier(options: VerifyOptions): (token: string) => Promise<VerifiedAccessToken> {
  const settings = settingsFrom(options);
  const jwks = createJwksCache(settings);

  return async function verify(token: string): Promise<VerifiedAccessToken> {
    // 1. A well-formed JWS in compact serialization.
    const unverified = parseCompact(token);

    // 2. kid: a non-empty string.
    const { kid, alg, jku } = unverified.header;
    if (typeof kid !== 'string' || kid === '')
      fail('kid_missing', 'the header has no kid (a non-empty string)');

    // 3. alg: a non-empty string, not "none", and supported.
    if (typeof alg !== 'string' || alg === '')
      fail('alg_missing', 'the header has no alg (a non-empty string)');
    if (alg.toLowerCase() === 'none') fail('alg_none', 'alg "none" means the token is unsigned');
    if (alg !== SUPPORTED_ALG) fail('alg_unsupported', `alg ${show(alg)} is not supported (only EdDSA)`);

    // 4. jku: the pinned JWKS URI when there is one; else an https URL without userinfo, query or
    // fragment, on an allowed host.
    const jwksUrl = settings.pinned ? checkPinnedJku(jku, settings.pinned) : checkJku(jku, settings);

    // 5. One and only one key with the kid in the JWKS at the jku (no redirects followed).
    const { jwk, entry } = await jwks.keyFor(jwksUrl, kid);

    // 6. The key fits the alg. Header-provided key material (jwk, x5c, x5u…) is never looked at.
    const key = await importVerificationKey(jwk, alg, kid, entry);

    // 7. The signature, checked by jose with that key only.
    let verified: Awaited<ReturnType<typeof compactVerify>>;
    try {
      verified = await compactVerify(token, key, { algorithms: [SUPPORTED_ALG] });
    } catch (cause) {
      fail('signature_invalid', `the signature does not verify: ${errorMessage(cause)}`, cause);
    }

    // From here on only what jose verified is used.
    const header = verified.protectedHeader as AccessTokenHeader;
    const payload = parseJsonObject(verified.payload, 'payload') as AccessTokenPayload;
    checkClaims(payload, settings);
    jwks.verifiedWith(jwksUrl, entry);
    return { header, payload };
  };
}
