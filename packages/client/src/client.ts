/**
 * OAuthClient: the calls a client of the book makes to the server — /token and its three grants,
 * /iracing/profile, and Session Management. Every failure is thrown as an OAuthError; nothing is logged.
 */
import { type AuthorizeUrlOptions, authorizeUrl, issuerBase, scopeParam } from './authorize.ts';
import {
  DEVICE_CODE_GRANT,
  type DeviceLoginOptions,
  parseDeviceAuthorization,
  printDeviceCode,
  sleep,
} from './device.ts';
import { noAnswer, OAuthError } from './errors.ts';
import { mask } from './mask.ts';
import { isRedirect, redirectError } from './redirects.ts';
import {
  type Introspection,
  malformed,
  type Profile,
  readEmpty,
  readJson,
  type ServerMetadata,
  type Session,
  type TokenSet,
  tokenSet,
} from './responses.ts';

export interface OAuthClientOptions {
  /** The server's issuer URL; endpoints live under `${issuer}/oauth2`. */
  issuer: string;
  clientId: string;
  /** The client secret as issued (confidential clients only). The SDK masks it before sending it. */
  clientSecret?: string;
  /** A fetch implementation to use instead of the global one (for proxies, tests, instrumentation). */
  fetch?: typeof fetch;
}

export interface ExchangeCodeOptions {
  code: string;
  /** The redirect URI given to /authorize, byte for byte. */
  redirectUri: string;
  /** The PKCE verifier whose challenge went to /authorize. */
  codeVerifier?: string;
}

export interface PasswordLimitedOptions {
  username: string;
  /** The user's password as typed. The SDK masks it with the username before sending it. */
  password: string;
  scope?: string | string[];
}

export type TokenTypeHint = 'access_token' | 'refresh_token';

type Form = Record<string, string>;

export class OAuthClient {
  readonly issuer: string;
  readonly clientId: string;
  // Private fields keep the secret out of console.log, JSON.stringify and structured clones.
  readonly #clientSecret: string | undefined;
  #maskedSecret: Promise<string> | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: OAuthClientOptions) {
    if (!options.clientId) throw new TypeError('clientId is required');
    this.issuer = issuerBase(options.issuer);
    this.clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    // Called through a wrapper: a browser's fetch throws when invoked with another `this`.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The /authorize address for this client (see the standalone `authorizeUrl`). */
  authorizeUrl(options: Omit<AuthorizeUrlOptions, 'issuer' | 'clientId'>): string {
    return authorizeUrl({ ...options, issuer: this.issuer, clientId: this.clientId });
  }

  /** The authorization_code grant: trades the code from the callback (after checking its state) for tokens. */
  async exchangeCode(options: ExchangeCodeOptions): Promise<TokenSet> {
    const form: Form = {
      grant_type: 'authorization_code',
      code: options.code,
      redirect_uri: options.redirectUri,
    };
    if (options.codeVerifier !== undefined) form.code_verifier = options.codeVerifier;
    return this.#token(form);
  }

  /** The refresh_token grant. The refresh token is spent whatever the outcome: keep the new one. */
  async refresh(refreshToken: string): Promise<TokenSet> {
    return this.#token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  /**
   * The password_limited grant, for headless clients with a secret and a registered user. Meant for
   * start-up only: the server rate-limits it (see `OAuthError.retryAfter` and `.rateLimit`).
   */
  async passwordLimited(options: PasswordLimitedOptions): Promise<TokenSet> {
    const form: Form = {
      grant_type: 'password_limited',
      username: options.username,
      password: await mask(options.password, options.username),
    };
    const scope = scopeParam(options.scope);
    if (scope) form.scope = scope;
    return this.#token(form);
  }

  /**
   * The Device Authorization Grant (RFC 8628), for a client that cannot open a browser: asks for a
   * device code, shows the user code (`onCode`), and polls /token at the server's interval (5 s more
   * after each slow_down) until the user has allowed or denied it on another device. Resolves with the
   * tokens; rejects with the server's access_denied or expired_token, or when `signal` aborts.
   */
  async deviceLogin(options: DeviceLoginOptions = {}): Promise<TokenSet> {
    const form: Form = await this.#authenticated({});
    const scope = scopeParam(options.scope);
    if (scope) form.scope = scope;
    options.signal?.throwIfAborted();
    const res = await this.#send('POST', '/device_authorization', { form });
    const answer = parseDeviceAuthorization(await readJson(res, '/device_authorization'));
    const { deviceCode, code } = answer;
    let interval = answer.interval;
    await (options.onCode ?? printDeviceCode)(code);
    for (;;) {
      // A little over the interval: the server counts whole seconds, and a timer may fire a hair early.
      await sleep(interval * 1000 + 250, options.signal);
      try {
        return await this.#token({ grant_type: DEVICE_CODE_GRANT, device_code: deviceCode });
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        if (err.error === 'slow_down') interval += 5;
        else if (err.error !== 'authorization_pending') throw err;
      }
    }
  }

  /** The server's metadata, fetched on every call (a client that needs it often should keep it). */
  async metadata(): Promise<ServerMetadata> {
    const url = `${this.issuer}/.well-known/oauth-authorization-server`;
    let res: Response;
    try {
      res = await this.#fetch(url, { headers: { accept: 'application/json' } });
    } catch (cause) {
      throw noAnswer(url, cause);
    }
    const body = await readJson(res, '/.well-known/oauth-authorization-server', '');
    if (typeof body.issuer !== 'string') throw malformed('/.well-known/oauth-authorization-server');
    return body as ServerMetadata;
  }

  /** GET /iracing/profile (the token needs the `iracing.profile` scope). */
  async profile(accessToken: string): Promise<Profile> {
    const body = await readJson(
      await this.#send('GET', '/iracing/profile', { bearer: accessToken }),
      '/iracing/profile',
    );
    if (typeof body.iracing_name !== 'string') throw malformed('/iracing/profile');
    return body as unknown as Profile;
  }

  /** GET /sessions: the user's live sessions with this client. */
  async sessions(accessToken: string): Promise<Session[]> {
    const body = await readJson(await this.#send('GET', '/sessions', { bearer: accessToken }), '/sessions');
    if (!Array.isArray(body.sessions)) throw malformed('/sessions');
    return body.sessions as Session[];
  }

  /** POST /revoke/current: signs out the session of this access token; `forgetBrowser` also drops 2FA bypass. */
  async revokeCurrent(accessToken: string, options: { forgetBrowser?: boolean } = {}): Promise<void> {
    const form = { forget_browser: options.forgetBrowser ? 'true' : 'false' };
    await readEmpty(await this.#send('POST', '/revoke/current', { bearer: accessToken, form }));
  }

  /** POST /revoke/sessions: signs out the given sessions of the user (ids from `sessions()`). */
  async revokeSessions(accessToken: string, ids: string[]): Promise<void> {
    const form = { session_ids: ids.join(',') };
    await readEmpty(await this.#send('POST', '/revoke/sessions', { bearer: accessToken, form }));
  }

  /** POST /revoke/client: signs out every session of the user with this client. */
  async revokeClient(accessToken: string): Promise<void> {
    await readEmpty(await this.#send('POST', '/revoke/client', { bearer: accessToken }));
  }

  /**
   * POST /revoke (RFC 7009): revokes a refresh or access token of this client, which ends its session.
   * The server answers the same for a token it does not know or that belongs to another client, so a
   * resolved promise means only that the token no longer works if it was this client's.
   */
  async revoke(token: string, hint?: TokenTypeHint): Promise<void> {
    const form: Form = { token };
    if (hint) form.token_type_hint = hint;
    await readEmpty(await this.#send('POST', '/revoke', { form: await this.#authenticated(form) }));
  }

  /**
   * POST /introspect (RFC 7662), for confidential clients and resource servers: whether a token is live
   * now (signature, expiry and session), with its claims when it is.
   */
  async introspect(token: string, hint?: TokenTypeHint): Promise<Introspection> {
    const form: Form = { token };
    if (hint) form.token_type_hint = hint;
    const res = await this.#send('POST', '/introspect', { form: await this.#authenticated(form) });
    const body = await readJson(res, '/introspect');
    if (typeof body.active !== 'boolean') throw malformed('/introspect');
    return body as Introspection;
  }

  // ---- plumbing

  async #token(grant: Form): Promise<TokenSet> {
    const res = await this.#send('POST', '/token', { form: await this.#authenticated(grant) });
    return tokenSet(await readJson(res, '/token'), res);
  }

  /** The form with this client's authentication: client_id, and the masked secret when it has one. */
  async #authenticated(fields: Form): Promise<Form> {
    const form: Form = { ...fields, client_id: this.clientId };
    if (this.#clientSecret !== undefined) {
      this.#maskedSecret ??= mask(this.#clientSecret, this.clientId);
      form.client_secret = await this.#maskedSecret;
    }
    return form;
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    opts: { bearer?: string; form?: Form },
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`;
    let body: string | undefined;
    if (opts.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(opts.form).toString();
    }
    let res: Response;
    try {
      // Every call carries a credential (a masked secret or password, a code, a refresh or access
      // token): a redirect would hand it to whatever address the answer names, so none is followed.
      res = await this.#fetch(`${this.issuer}/oauth2${path}`, { method, headers, body, redirect: 'manual' });
    } catch (cause) {
      throw noAnswer(`${this.issuer}/oauth2${path}`, cause);
    }
    if (isRedirect(res)) {
      await res.body?.cancel().catch(() => undefined);
      throw redirectError(res, path);
    }
    return res;
  }
}
