/**
 * @paddock/client: what a client of the book needs. Isomorphic: runs in Node 20+ and browsers, using only
 * WebCrypto, fetch, TextEncoder and btoa (and jose for the verifier). Node-only helpers (a file token
 * store, the loopback sign-in for desktop apps) are in `@paddock/client/node`.
 */
export {
  type AuthorizeUrlOptions,
  authorizeUrl,
  type CallbackOptions,
  type CallbackResult,
  generateState,
  parseCallback,
} from './authorize.ts';
export {
  type ExchangeCodeOptions,
  OAuthClient,
  type OAuthClientOptions,
  type PasswordLimitedOptions,
  type TokenTypeHint,
} from './client.ts';
export type { DeviceCode, DeviceLoginOptions } from './device.ts';
export { OAuthError, type OAuthErrorOptions, type RateLimit } from './errors.ts';
export { mask } from './mask.ts';
export {
  type CodeChallengeMethod,
  codeChallengeS256,
  generateCodeVerifier,
  isValidCodeVerifier,
  isValidPkcePair,
  VERIFIER_CHARSET,
} from './pkce.ts';
export type { Introspection, Profile, ServerMetadata, Session, TokenSet } from './responses.ts';
export {
  MemoryTokenStore,
  type StoredTokens,
  TokenManager,
  type TokenManagerOptions,
  type TokenStore,
} from './token-manager.ts';
export * from './verify.ts';
