/**
 * The one error type of the SDK. Every failure of a call to the server (an error answer, an answer the
 * SDK cannot read, or no answer at all) and every rejected authorization callback is an OAuthError.
 */
import { isObject } from './json.ts';

/** The RateLimit-* headers of a response, when the server sent them (the password_limited grant does). */
export interface RateLimit {
  /** Requests allowed in the current window. */
  limit: number;
  /** Requests left in the current window. */
  remaining: number;
  /** Seconds until the window ends. */
  reset: number;
}

export interface OAuthErrorOptions {
  description?: string;
  uri?: string;
  status?: number;
  requestId?: string;
  retryAfter?: number;
  rateLimit?: RateLimit;
  cause?: unknown;
}

export class OAuthError extends Error {
  override name = 'OAuthError';
  /**
   * The book's error code (`invalid_grant`, `invalid_client`, ...), or one of the SDK's own:
   * `network_error` (no answer), `server_error` (an answer that is not the book's JSON, or a redirect,
   * which is never followed), `state_mismatch`, `issuer_mismatch` and `invalid_callback` (a bad
   * authorization callback), `login_required` (the token manager has no way to get a token), `timeout`
   * (loopback sign-in not completed in time).
   */
  readonly error: string;
  /** The server's `error_description`. */
  readonly description?: string;
  /** The server's `error_uri`: a page that explains the error. */
  readonly uri?: string;
  /** The HTTP status of the answer, when there was one. */
  readonly status?: number;
  /** The answer's `x-request-id`: quote it when reporting a problem. */
  readonly requestId?: string;
  /** Seconds to wait before trying again, from the answer's `Retry-After`. */
  readonly retryAfter?: number;
  /** The answer's RateLimit-* headers. */
  readonly rateLimit?: RateLimit;

  constructor(error: string, options: OAuthErrorOptions = {}) {
    super(
      options.description ? `${error}: ${options.description}` : error,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.error = error;
    if (options.description !== undefined) this.description = options.description;
    if (options.uri !== undefined) this.uri = options.uri;
    if (options.status !== undefined) this.status = options.status;
    if (options.requestId !== undefined) this.requestId = options.requestId;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
    if (options.rateLimit !== undefined) this.rateLimit = options.rateLimit;
  }
}

/** Reads `Retry-After` (delta-seconds or an HTTP date) as whole seconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** Reads the RateLimit-Limit/-Remaining/-Reset headers, when all three are present and numeric. */
export function parseRateLimit(headers: Headers): RateLimit | undefined {
  const num = (name: string) => {
    const v = headers.get(name)?.trim();
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  const limit = num('ratelimit-limit');
  const remaining = num('ratelimit-remaining');
  const reset = num('ratelimit-reset');
  if (limit === undefined || remaining === undefined || reset === undefined) return undefined;
  return { limit, remaining, reset };
}

/** What every answer says about itself, error or not: its request id and its rate-limit headers. */
export function responseDetails(
  res: Response,
): Pick<OAuthErrorOptions, 'status' | 'requestId' | 'retryAfter' | 'rateLimit'> {
  const details: Pick<OAuthErrorOptions, 'status' | 'requestId' | 'retryAfter' | 'rateLimit'> = {
    status: res.status,
  };
  const requestId = res.headers.get('x-request-id');
  if (requestId) details.requestId = requestId;
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
  if (retryAfter !== undefined) details.retryAfter = retryAfter;
  const rateLimit = parseRateLimit(res.headers);
  if (rateLimit) details.rateLimit = rateLimit;
  return details;
}

/**
 * The OAuthError for an answer that is not a success: the book's JSON error object when the body is one,
 * otherwise `server_error` with the status.
 */
export async function errorFromResponse(res: Response): Promise<OAuthError> {
  const details = responseDetails(res);
  let text = '';
  try {
    text = await res.text();
  } catch (cause) {
    return new OAuthError('server_error', {
      ...details,
      description: `the ${res.status} answer could not be read`,
      cause,
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string') {
    const b = body as { error: string; error_description?: unknown; error_uri?: unknown };
    const options: OAuthErrorOptions = { ...details };
    if (typeof b.error_description === 'string') options.description = b.error_description;
    if (typeof b.error_uri === 'string') options.uri = b.error_uri;
    return new OAuthError(b.error, options);
  }
  const type = res.headers.get('content-type')?.split(';')[0]?.trim() || 'no content type';
  return new OAuthError('server_error', {
    ...details,
    description: `unexpected ${res.status} ${res.statusText || 'answer'} (${type}) instead of the JSON error object`,
  });
}

/** An error for logs: its message, and the code of its cause when it has one (e.g. ECONNREFUSED). */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const code = isObject(cause) && typeof cause.code === 'string' ? ` (${cause.code})` : '';
    return `${err.message}${code}`;
  }
  return String(err);
}

/** The OAuthError for a call that got no answer (refused, reset, DNS, aborted...). */
export function noAnswer(url: string, cause: unknown): OAuthError {
  return new OAuthError('network_error', { description: `no answer from ${url}: ${describe(cause)}`, cause });
}
