/**
 * TokenManager: keeps a valid access token at hand, the way the book's Data API workflow describes —
 * use the access token until shortly before it expires, then trade the refresh token for new tokens, and
 * (for a headless client given credentials) sign in again with password_limited when there is no usable
 * refresh token.
 *
 * Refresh tokens are single use, and the server treats a second use of one as theft and revokes the whole
 * session. So renewal is single-flight: however many callers ask at once, one refresh is in flight and
 * they all wait for its result. The one exception the manager makes: when the answer to a refresh is
 * lost (no answer at all, not an error answer) and the server advertises a reuse grace period, it sends
 * the same token once more, which such a server answers with a fresh rotation.
 */
import type { OAuthClient, PasswordLimitedOptions } from './client.ts';
import { OAuthError } from './errors.ts';
import type { TokenSet } from './responses.ts';

/** Servers count token lifetimes in whole seconds: a token may end up to a second before its *_in says. */
const WHOLE_SECOND_SLACK = 1;

/** What a TokenStore keeps. Times are milliseconds since the epoch, by the manager's clock. */
export interface StoredTokens {
  access_token: string;
  refresh_token?: string;
  scope?: string;
  access_expires_at: number;
  /** How long the access token was given for (ms): the margin never exceeds half of it. */
  access_lifetime?: number;
  refresh_expires_at?: number;
}

/** Where a TokenManager keeps its tokens. One manager should own a store. */
export interface TokenStore {
  load(): Promise<StoredTokens | undefined>;
  save(tokens: StoredTokens): Promise<void>;
  clear(): Promise<void>;
}

/** Keeps tokens in memory only: they are gone when the process ends. */
export class MemoryTokenStore implements TokenStore {
  #tokens: StoredTokens | undefined;

  async load(): Promise<StoredTokens | undefined> {
    return this.#tokens ? { ...this.#tokens } : undefined;
  }
  async save(tokens: StoredTokens): Promise<void> {
    this.#tokens = { ...tokens };
  }
  async clear(): Promise<void> {
    this.#tokens = undefined;
  }
}

export interface TokenManagerOptions {
  /**
   * The client whose `refresh` (and `passwordLimited`) calls renew the tokens. Its `metadata`, when it has
   * one, tells whether a refresh whose answer was lost may be retried.
   */
  client: Pick<OAuthClient, 'refresh' | 'passwordLimited'> & Partial<Pick<OAuthClient, 'metadata'>>;
  /** Defaults to a MemoryTokenStore. */
  store?: TokenStore;
  /** An access token is renewed once it has this many seconds left or fewer. Default 30. */
  marginSeconds?: number;
  /**
   * A headless client's user credentials: with them, the manager signs in with password_limited when it
   * has no tokens or its refresh token is refused. Without them, it throws instead.
   */
  credentials?: PasswordLimitedOptions;
  /** How many password_limited attempts, when the server says when to retry (`Retry-After`). Default 3. */
  loginAttempts?: number;
  /** The clock, in milliseconds. Default Date.now. */
  now?: () => number;
  /** How to wait for a `Retry-After`. Default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class TokenManager {
  readonly #client: TokenManagerOptions['client'];
  readonly #store: TokenStore;
  readonly #marginMs: number;
  readonly #credentials: PasswordLimitedOptions | undefined;
  readonly #loginAttempts: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;

  #tokens: StoredTokens | undefined;
  #loaded = false;
  /** The one renewal (or first load) in flight, shared by every caller. */
  #pending: Promise<string> | undefined;
  /** Bumped by setTokens() and clear(), so that a renewal started before them does not overwrite them. */
  #generation = 0;

  constructor(options: TokenManagerOptions) {
    this.#client = options.client;
    this.#store = options.store ?? new MemoryTokenStore();
    const margin = options.marginSeconds ?? 30;
    if (!(margin >= 0)) throw new RangeError('marginSeconds must be 0 or more');
    this.#marginMs = margin * 1000;
    this.#credentials = options.credentials;
    this.#loginAttempts = Math.max(1, options.loginAttempts ?? 3);
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? defaultSleep;
  }

  /**
   * An access token valid for more than the margin: the current one, or a renewed one. Throws the
   * OAuthError of a failed renewal, or `login_required` when there is nothing to renew from.
   */
  getAccessToken(): Promise<string> {
    const t = this.#tokens;
    if (this.#loaded && !this.#pending && t && this.#fresh(t)) return Promise.resolve(t.access_token);
    if (!this.#pending) {
      const pending = this.#obtain().finally(() => {
        if (this.#pending === pending) this.#pending = undefined;
      });
      this.#pending = pending;
    }
    return this.#pending;
  }

  /** Takes tokens obtained elsewhere (e.g. from `exchangeCode` or `loopbackLogin`) and stores them. */
  async setTokens(tokens: TokenSet): Promise<void> {
    this.#generation++;
    await this.#keep(tokens, this.#now(), this.#generation);
  }

  /** Forgets the tokens, here and in the store (e.g. after `revokeCurrent`). */
  async clear(): Promise<void> {
    this.#generation++;
    this.#tokens = undefined;
    this.#loaded = true;
    await this.#store.clear();
  }

  #fresh(t: StoredTokens): boolean {
    // A token that lives less than twice the margin is still used for the first half of its life,
    // rather than renewed on every call.
    const margin =
      t.access_lifetime === undefined ? this.#marginMs : Math.min(this.#marginMs, t.access_lifetime / 2);
    return t.access_expires_at - this.#now() > margin;
  }

  async #obtain(): Promise<string> {
    const generation = this.#generation;
    if (!this.#loaded) {
      this.#tokens = await this.#store.load();
      this.#loaded = true;
    }
    const t = this.#tokens;
    if (t && this.#fresh(t)) return t.access_token;

    if (t?.refresh_token && (t.refresh_expires_at === undefined || t.refresh_expires_at > this.#now())) {
      const started = this.#now();
      try {
        const renewed = await this.#refresh(t.refresh_token, started);
        return (await this.#keep(renewed, started, generation)).access_token;
      } catch (err) {
        if (!(err instanceof OAuthError && err.error === 'invalid_grant')) throw err;
        // setTokens() or clear() ran meanwhile: start again from what they left.
        if (generation !== this.#generation) return this.#obtain();
        // The refresh token was refused (revoked, expired or already used): it will never work again.
        await this.clear();
        if (!this.#credentials) throw err;
      }
    }
    if (this.#credentials) return this.#login(this.#credentials, this.#generation);
    throw new OAuthError('login_required', {
      description: t
        ? 'the access token has expired and there is no usable refresh token: sign in again'
        : 'no tokens: sign in first (setTokens) or give the manager credentials',
    });
  }

  /**
   * One refresh. If its answer is lost, the server may have rotated the token without the manager ever
   * seeing the successor; sending the token again would then be reuse, which revokes the session. A
   * server with a reuse grace answers that one retry with a fresh rotation, so the manager retries once,
   * and only while the grace lasts (counted, conservatively, from when the first request was sent).
   */
  async #refresh(refreshToken: string, sentAt: number): Promise<TokenSet> {
    try {
      return await this.#client.refresh(refreshToken);
    } catch (err) {
      if (!(err instanceof OAuthError && err.error === 'network_error')) throw err;
      const grace = await this.#reuseGrace();
      if (this.#now() - sentAt >= grace * 1000) throw err;
      return this.#client.refresh(refreshToken);
    }
  }

  /** The server's reuse grace in seconds, asked at the moment it matters; 0 when it cannot be known. */
  async #reuseGrace(): Promise<number> {
    if (!this.#client.metadata) return 0;
    try {
      const grace = (await this.#client.metadata()).refresh_token_reuse_grace_seconds;
      return typeof grace === 'number' && Number.isFinite(grace) && grace > 0 ? grace : 0;
    } catch {
      return 0;
    }
  }

  async #login(credentials: PasswordLimitedOptions, generation: number): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const started = this.#now();
      try {
        const tokens = await this.#client.passwordLimited(credentials);
        return (await this.#keep(tokens, started, generation)).access_token;
      } catch (err) {
        // Rate limited, locked for a while, or unavailable: the server said when to come back.
        if (err instanceof OAuthError && err.retryAfter !== undefined && attempt < this.#loginAttempts) {
          await this.#sleep(err.retryAfter * 1000);
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * Records a /token answer. Expiry times count from when the request was sent, so they are never later
   * than the server's.
   */
  async #keep(tokens: TokenSet, sentAt: number, generation: number): Promise<StoredTokens> {
    const lifetime = (tokens.expires_in - WHOLE_SECOND_SLACK) * 1000;
    const stored: StoredTokens = {
      access_token: tokens.access_token,
      access_expires_at: sentAt + lifetime,
      access_lifetime: lifetime,
    };
    if (tokens.refresh_token) {
      stored.refresh_token = tokens.refresh_token;
      if (tokens.refresh_token_expires_in !== undefined) {
        stored.refresh_expires_at = sentAt + (tokens.refresh_token_expires_in - WHOLE_SECOND_SLACK) * 1000;
      }
    }
    if (tokens.scope !== undefined) stored.scope = tokens.scope;
    // setTokens() or clear() ran while this renewal was in flight: they win.
    if (generation !== this.#generation) return stored;
    this.#tokens = stored;
    this.#loaded = true;
    await this.#store.save(stored);
    return stored;
  }
}
