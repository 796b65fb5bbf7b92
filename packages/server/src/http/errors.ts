import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { endpoints } from '../config.ts';
import { errorBody, OAuthError, statusReason } from '../oauth/errors.ts';
import { withParams } from '../oauth/redirect-match.ts';
import { StoreUnavailableError } from '../store/db.ts';
import { errorPage } from '../ui/error-page.ts';
import { pageHeaders } from './browser.ts';

/** The refusal each request was answered with, for the request inspector of `paddock dev`. */
const refusals = new WeakMap<FastifyRequest, OAuthError>();

/** Remembers the error a request was answered with (sendError does; so do redirects with an error). */
export function noteRefusal(request: FastifyRequest, err: OAuthError): void {
  refusals.set(request, err);
}

export function refusalOf(request: FastifyRequest): OAuthError | undefined {
  return refusals.get(request);
}

/** Seconds a client is asked to wait when the database is unavailable: about what a restart takes. */
export const STORE_RETRY_AFTER = 5;

export function errorUri(config: Config, code: string): string {
  return `${endpoints(config).book}/error_${code}.html`;
}

/** Browsers navigating to a page get the error as HTML; API clients get the book's JSON. */
function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return /text\/html/.test(accept) && !/^application\/json/.test(accept);
}

/** Sends the book's JSON error object (or the same as a page), with WWW-Authenticate on every 401. */
export function sendError(reply: FastifyReply, config: Config, err: OAuthError): FastifyReply {
  noteRefusal(reply.request, err);
  reply.code(err.status);
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  if (err.status === 401 || err.error === 'insufficient_scope') {
    reply.header(
      'WWW-Authenticate',
      `Bearer error="${err.error}", error_description="${headerSafe(err.description)}"`,
    );
  }
  reply.header('Cache-Control', 'no-store');
  if (wantsHtml(reply.request)) {
    return pageHeaders(reply).send(
      errorPage({
        status: err.status,
        error: err.error,
        description: err.description,
        errorUri: errorUri(config, err.error),
        requestId: String(reply.request.id),
      }),
    );
  }
  return reply.send(errorBody(err, errorUri(config, err.error)));
}

function headerSafe(s: string): string {
  return s.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
}

/** One place turns every failure into the book's format; nothing a client sends yields a 500 or a stack. */
export function installErrorHandling(app: FastifyInstance, config: Config): void {
  app.setErrorHandler((error: FastifyError | OAuthError, request, reply) => {
    if (error instanceof OAuthError) return sendError(reply, config, error);
    if (error instanceof StoreUnavailableError) {
      request.log.warn({ err: error }, 'database unavailable');
      const oauth = new OAuthError('temporarily_unavailable', 'the service is temporarily unavailable', {
        headers: { 'Retry-After': String(STORE_RETRY_AFTER) },
      });
      return sendError(reply, config, oauth);
    }
    const status = (error as FastifyError).statusCode ?? 500;
    if (status < 500) {
      // The book's table gives invalid_request one status, 400, whatever the parser's complaint.
      const oauth = new OAuthError('invalid_request', describeClientError(error as FastifyError));
      return sendError(reply, config, oauth);
    }
    // pino's err serializer names the class (type), and adds message, stack and the error's own fields.
    request.log.error({ err: error }, 'request failed');
    return sendError(
      reply,
      config,
      new OAuthError('server_error', 'the server could not complete the request'),
    );
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new OAuthError(
      'invalid_request',
      `no endpoint at ${request.method} ${request.url.split('?')[0]}`,
      {
        status: 404,
      },
    );
    return sendError(reply, config, err);
  });
}

/**
 * What Node cannot hand to a route (a request too slow to arrive, headers too large, bytes that are not
 * HTTP) still gets the book's error object, written straight to the socket, which is then closed.
 */
export function clientErrorHandler(config: Config) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    let oauth: OAuthError;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      oauth = new OAuthError('invalid_request', 'the request did not arrive in time', { status: 408 });
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      oauth = new OAuthError('invalid_request', 'the request headers are too large', { status: 431 });
    } else {
      oauth = new OAuthError('invalid_request', 'the request is not valid HTTP/1.1');
    }
    if (socket.writable) {
      const body = JSON.stringify(errorBody(oauth, errorUri(config, oauth.error)));
      socket.write(
        `HTTP/1.1 ${oauth.status} ${oauth.statusReason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

function describeClientError(error: FastifyError): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'the request body must be application/x-www-form-urlencoded';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'the request body is too large';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'the request body could not be read';
    default:
      return `the request could not be parsed (${statusReason(error.statusCode ?? 400)})`;
  }
}

/** An error at a validated redirect URI, with the issuer (RFC 9207) as on a code. */
export function redirectError(
  config: Config,
  reply: FastifyReply,
  redirectUri: string,
  err: OAuthError,
  state: string | undefined,
  status: 302 | 303,
) {
  noteRefusal(reply.request, err);
  reply.header('Cache-Control', 'no-store');
  return reply.redirect(
    withParams(redirectUri, {
      error: err.error,
      error_description: err.description,
      error_uri: errorUri(config, err.error),
      state,
      iss: config.issuer,
    }),
    status,
  );
}

/** A page's form whose CSRF token does not fit: stale, or not from this site. */
export function formExpired(): OAuthError {
  return new OAuthError(
    'invalid_request',
    'the form has expired or did not come from this site: start again',
    {
      status: 403,
    },
  );
}
