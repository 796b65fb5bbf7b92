/**
 * OAuthClient: the calls a client of the book makes to the server — /token and its three grants,
 * /iracing/profile, and Session Management. Every failure is thrown as an OAuthError; nothing is logged.
 */
import { type AuthorizeUrlOptions, authorizeUrl, issuerBase } from './authorize.ts';
import { errorFromResponse, OAuthError, responseDetails } from './errors.ts';
import { mask } from './mask.ts';

/** The /token answer, the same for every grant. Optional fields are absent when the server omits them. */
export interface TokenSet {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds the access token stays valid. */
  expires_in: number;
  /** Single use: each refresh returns a new one, and the old one must be forgotten. */
  refresh_token?: string;
  /** Seconds the refresh token stays valid. */
  refresh_token_expires_in?: number;
  /** The scopes granted, space-separated (they may differ from those asked for). */
  scope?: string;
}

/** The /iracing/profile answer. */
export interface Profile {
  iracing_name: string;
  iracing_cust_id: number;
}

/** One of the user's sessions with this client, as /sessions describes it. Times are Unix seconds. */
export interface Session {
  /** Opaque; pass it to `revokeSessions`. */
  session_id: string;
  client_id: string;
  client_name: string;
  client_developer_name: string | null;
  client_developer_url: string | null;
  client_developer_email: string | null;
  /** Space-separated scopes, or null when none were granted. */
  scope: string | null;
  scope_descriptions: string[] | null;
  auth_time: number;
  last_activity: number;
  session_expiration: number;
  /** True for the session of the access token that asked. */
  current_session: boolean;
  impersonated: boolean;
  impersonation_note: string | null;
  first_ip: string | null;
  first_continent: string | null;
  first_country: string | null;
  first_subdivisions: string[] | null;
  first_city: string | null;
  first_user_agent_header: string | null;
  first_user_agent_operating_system: string | null;
  first_user_agent_browser: string | null;
  last_ip: string | null;
  last_continent: string | null;
  last_country: string | null;
  last_subdivisions: string[] | null;
  last_city: string | null;
  last_user_agent_header: string | null;
  last_user_agent_operating_system: string | null;
  last_user_agent_browser: string | null;
}

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

/** What the user needs to approve a device sign-in: shown by `deviceLogin` through `onCode`. */
export interface DeviceCode {
  /** The code the user types on the verification page, e.g. `WDJB-MJHT`. */
  userCode: string;
  /** The page where the user enters the code (show it, or a QR code of `verificationUriComplete`). */
  verificationUri: string;
  /** The same page with the code filled in. */
  verificationUriComplete: string;
  /** Seconds until the code expires. */
  expiresIn: number;
}

export interface DeviceLoginOptions {
  scope?: string | string[];
  /**
   * Shows the code to the user. By default it is printed to stderr (in Node) or the console. Awaited:
   * polling starts once it returns.
   */
  onCode?: (code: DeviceCode) => void | Promise<void>;
  /** Stops waiting: deviceLogin then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * The server's RFC 8414 metadata (`/.well-known/oauth-authorization-server`): the fields the SDK reads,
 * and whatever else the server says.
 */
export interface ServerMetadata {
  issuer: string;
  token_endpoint?: string;
  jwks_uri?: string;
  /**
   * Paddock's own field: for how many seconds after a rotation the server answers the rotated refresh
   * token once more, when the answer to that rotation was lost. Absent when the server allows no reuse.
   */
  refresh_token_reuse_grace_seconds?: number;
  [field: string]: unknown;
}

/**
 * An RFC 7662 introspection answer. `active` is always there; the rest only when the token is active.
 * Paddock's `token_type` is `Bearer` for access tokens and `refresh_token` for refresh tokens.
 */
export interface Introspection {
  active: boolean;
  scope?: string;
  client_id?: string;
  sub?: string;
  exp?: number;
  iat?: number;
  aud?: string | string[];
  iss?: string;
  token_type?: string;
  session_id?: string;
  iracing_cust_id?: number | null;
  [field: string]: unknown;
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
    const scope = Array.isArray(options.scope) ? options.scope.join(' ') : options.scope;
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
    const scope = Array.isArray(options.scope) ? options.scope.join(' ') : options.scope;
    if (scope) form.scope = scope;
    options.signal?.throwIfAborted();
    const res = await this.#send('POST', '/device_authorization', { form });
    const body = await this.#json(res, '/device_authorization');
    const text = (k: string) => (typeof body[k] === 'string' && body[k] ? (body[k] as string) : undefined);
    const deviceCode = text('device_code');
    const userCode = text('user_code');
    const verificationUri = text('verification_uri');
    const expiresIn = body.expires_in;
    if (!deviceCode || !userCode || !verificationUri || typeof expiresIn !== 'number') {
      throw malformed('/device_authorization');
    }
    let interval = typeof body.interval === 'number' && body.interval > 0 ? body.interval : 5;
    const code: DeviceCode = {
      userCode,
      verificationUri,
      verificationUriComplete: text('verification_uri_complete') ?? verificationUri,
      expiresIn,
    };
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
      throw new OAuthError('network_error', {
        description: `no answer from ${url}: ${describe(cause)}`,
        cause,
      });
    }
    const body = await this.#json(res, '/.well-known/oauth-authorization-server', '');
    if (typeof body.issuer !== 'string') throw malformed('/.well-known/oauth-authorization-server');
    return body as ServerMetadata;
  }

  /** GET /iracing/profile (the token needs the `iracing.profile` scope). */
  async profile(accessToken: string): Promise<Profile> {
    const body = await this.#json(
      await this.#send('GET', '/iracing/profile', { bearer: accessToken }),
      '/iracing/profile',
    );
    if (!isObject(body) || typeof body.iracing_name !== 'string') throw malformed('/iracing/profile');
    return body as unknown as Profile;
  }

  /** GET /sessions: the user's live sessions with this client. */
  async sessions(accessToken: string): Promise<Session[]> {
    const body = await this.#json(await this.#send('GET', '/sessions', { bearer: accessToken }), '/sessions');
    if (!isObject(body) || !Array.isArray(body.sessions)) throw malformed('/sessions');
    return body.sessions as Session[];
  }

  /** POST /revoke/current: signs out the session of this access token; `forgetBrowser` also drops 2FA bypass. */
  async revokeCurrent(accessToken: string, options: { forgetBrowser?: boolean } = {}): Promise<void> {
    const form = { forget_browser: options.forgetBrowser ? 'true' : 'false' };
    await this.#empty(await this.#send('POST', '/revoke/current', { bearer: accessToken, form }));
  }

  /** POST /revoke/sessions: signs out the given sessions of the user (ids from `sessions()`). */
  async revokeSessions(accessToken: string, ids: string[]): Promise<void> {
    const form = { session_ids: ids.join(',') };
    await this.#empty(await this.#send('POST', '/revoke/sessions', { bearer: accessToken, form }));
  }

  /** POST /revoke/client: signs out every session of the user with this client. */
  async revokeClient(accessToken: string): Promise<void> {
    await this.#empty(await this.#send('POST', '/revoke/client', { bearer: accessToken }));
  }

  /**
   * POST /revoke (RFC 7009): revokes a refresh or access token of this client, which ends its session.
   * The server answers the same for a token it does not know or that belongs to another client, so a
   * resolved promise means only that the token no longer works if it was this client's.
   */
  async revoke(token: string, hint?: TokenTypeHint): Promise<void> {
    const form: Form = { token };
    if (hint) form.token_type_hint = hint;
    await this.#empty(await this.#send('POST', '/revoke', { form: await this.#authenticated(form) }));
  }

  /**
   * POST /introspect (RFC 7662), for confidential clients and resource servers: whether a token is live
   * now (signature, expiry and session), with its claims when it is.
   */
  async introspect(token: string, hint?: TokenTypeHint): Promise<Introspection> {
    const form: Form = { token };
    if (hint) form.token_type_hint = hint;
    const res = await this.#send('POST', '/introspect', { form: await this.#authenticated(form) });
    const body = await this.#json(res, '/introspect');
    if (typeof body.active !== 'boolean') throw malformed('/introspect');
    return body as Introspection;
  }

  // ---- plumbing

  async #token(grant: Form): Promise<TokenSet> {
    const res = await this.#send('POST', '/token', { form: await this.#authenticated(grant) });
    return tokenSet(await this.#json(res, '/token'), res);
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
      throw new OAuthError('network_error', {
        description: `no answer from ${this.issuer}/oauth2${path}: ${describe(cause)}`,
        cause,
      });
    }
    if (isRedirect(res)) {
      await res.body?.cancel().catch(() => undefined);
      throw redirectError(res, path);
    }
    return res;
  }

  async #json(res: Response, path: string, prefix = '/oauth2'): Promise<Record<string, unknown>> {
    if (!res.ok) throw await errorFromResponse(res);
    let text: string;
    try {
      text = await res.text();
    } catch (cause) {
      throw new OAuthError('network_error', { ...responseDetails(res), description: describe(cause), cause });
    }
    try {
      const body = JSON.parse(text);
      if (isObject(body)) return body;
    } catch {}
    throw new OAuthError('server_error', {
      ...responseDetails(res),
      description: `the ${res.status} answer from ${prefix}${path} is not a JSON object`,
    });
  }

  async #empty(res: Response): Promise<void> {
    if (!res.ok) throw await errorFromResponse(res);
    // Drain the body so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
  }
}

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** deviceLogin's default onCode: console.error, which is stderr in Node, so stdout stays the program's. */
function printDeviceCode(code: DeviceCode): void {
  console.error(
    `To sign in, open ${code.verificationUri} and enter the code ${code.userCode}\n(or open ${code.verificationUriComplete}). The code expires in ${Math.round(code.expiresIn / 60)} minutes.`,
  );
}

/** Waits, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = isObject(cause) && typeof cause.code === 'string' ? ` (${cause.code})` : '';
    return `${err.message}${code}`;
  }
  return String(err);
}

/**
 * A redirect answer: a 3xx (Node), an opaque redirect (browsers, status 0), or an answer a custom fetch
 * reached by following one anyway.
 */
function isRedirect(res: Response): boolean {
  return res.type === 'opaqueredirect' || res.redirected || (res.status >= 300 && res.status < 400);
}

function redirectError(res: Response, path: string): OAuthError {
  const location = res.headers.get('location');
  const to = location ? ` to ${location.length > 200 ? `${location.slice(0, 200)}...` : location}` : '';
  const what = res.redirected
    ? `was redirected${res.url ? ` to ${res.url}` : ''} by the fetch function`
    : res.type === 'opaqueredirect'
      ? 'answered with a redirect'
      : `answered ${res.status}${to}`;
  return new OAuthError('server_error', {
    ...(res.type === 'opaqueredirect' ? {} : responseDetails(res)),
    description: `/oauth2${path} ${what}; redirects are not followed, so the credentials of this call never go to another address (check the issuer URL, e.g. https and the exact host)`,
  });
}

function malformed(path: string): OAuthError {
  return new OAuthError('server_error', { description: `the ${path} answer does not have the book's shape` });
}

/** Checks a /token answer and keeps the book's fields (absent or null optional fields are left out). */
function tokenSet(body: Record<string, unknown>, res: Response): TokenSet {
  const bad = (what: string) =>
    new OAuthError('server_error', { ...responseDetails(res), description: `the /token answer ${what}` });
  if (typeof body.access_token !== 'string' || !body.access_token) throw bad('has no access_token');
  if (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer') {
    throw bad('has a token_type other than Bearer');
  }
  const seconds = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!seconds(body.expires_in)) throw bad('has no valid expires_in');
  const set: TokenSet = {
    access_token: body.access_token,
    token_type: 'Bearer',
    expires_in: body.expires_in as number,
  };
  if (typeof body.refresh_token === 'string' && body.refresh_token) {
    set.refresh_token = body.refresh_token;
    if (seconds(body.refresh_token_expires_in)) {
      set.refresh_token_expires_in = body.refresh_token_expires_in as number;
    }
  }
  if (typeof body.scope === 'string' && body.scope) set.scope = body.scope;
  return set;
}
