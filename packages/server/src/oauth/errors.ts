// The book's error catalogue: every error code with the status and status_reason of its table.
// Handlers throw an OAuthError; one place (http/errors.ts) renders it.
import type { Reason } from './explanations.ts';

export const ERROR_TABLE = {
  access_denied: { status: 401, reason: 'Unauthorized' },
  // RFC 8628 section 3.5: the Device Authorization Grant's answers to a poll of /token.
  authorization_pending: { status: 400, reason: 'Bad Request' },
  expired_token: { status: 400, reason: 'Bad Request' },
  slow_down: { status: 400, reason: 'Bad Request' },
  insufficient_scope: { status: 403, reason: 'Forbidden' },
  // The book's table pairs 403 with the reason "Unauthorized"; we follow the table as written.
  invalid_client: { status: 403, reason: 'Unauthorized' },
  invalid_grant: { status: 400, reason: 'Bad Request' },
  invalid_request: { status: 400, reason: 'Bad Request' },
  invalid_scope: { status: 400, reason: 'Bad Request' },
  invalid_token: { status: 401, reason: 'Unauthorized' },
  server_error: { status: 500, reason: 'Internal Server Error' },
  temporarily_unavailable: { status: 503, reason: 'Service Unavailable' },
  unauthorized_client: { status: 401, reason: 'Unauthorized' },
  unsupported_grant_type: { status: 400, reason: 'Bad Request' },
  unsupported_response_type: { status: 400, reason: 'Bad Request' },
} as const;

export type ErrorCode = keyof typeof ERROR_TABLE;

export type { Reason } from './explanations.ts';

export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

const STATUS_REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface OAuthErrorOptions {
  /** Overrides the table's status where the book says so (the password_limited rate limit answers 400). */
  status?: number;
  headers?: Record<string, string>;
  /** Which rule refused the request, as a key of oauth/explanations.ts (for the dev inspector). */
  reason?: Reason;
}

export class OAuthError extends Error {
  readonly error: ErrorCode;
  readonly status: number;
  readonly statusReason: string;
  readonly headers: Record<string, string>;
  /** Which rule refused the request: a stable key of oauth/explanations.ts, never sent to the client. */
  reason: Reason | undefined;

  constructor(error: ErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(description);
    this.name = 'OAuthError';
    this.error = error;
    const row = ERROR_TABLE[error];
    this.status = options.status ?? row.status;
    this.statusReason = options.status ? (STATUS_REASONS[options.status] ?? row.reason) : row.reason;
    this.headers = options.headers ?? {};
    this.reason = options.reason;
  }

  /** Names the rule that refused the request, where the error is thrown. */
  because(reason: Reason): this {
    this.reason = reason;
    return this;
  }

  get description(): string {
    return this.message;
  }
}

export const invalidRequest = (d: string) => new OAuthError('invalid_request', d);
export const invalidGrant = (d: string) => new OAuthError('invalid_grant', d);
export const invalidClient = (d: string) => new OAuthError('invalid_client', d);
export const invalidScope = (d: string) => new OAuthError('invalid_scope', d);
export const invalidToken = (d: string) => new OAuthError('invalid_token', d);
export const accessDenied = (d: string) => new OAuthError('access_denied', d);
export const unauthorizedClient = (d: string, options?: OAuthErrorOptions) =>
  new OAuthError('unauthorized_client', d, options);

/** The JSON error object of the book's "Error Responses" section. */
export function errorBody(err: OAuthError, errorUri: string) {
  return {
    status: err.status,
    status_reason: err.statusReason,
    error: err.error,
    error_description: err.description,
    error_uri: errorUri,
  };
}

export function statusReason(status: number): string {
  return STATUS_REASONS[status] ?? 'Error';
}
