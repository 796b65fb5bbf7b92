// A route's input as plain strings, or the book's invalid_request: the raw query and the form body are
// read by the same rules as oauth/form.ts (a repeated parameter is refused, naming it), so no array,
// object or undefined body ever reaches a handler, the store or SQL.
import type { FastifyRequest } from 'fastify';
import { invalidRequest } from '../oauth/errors.ts';
import { EMPTY_FORM, type Form, parseForm } from '../oauth/form.ts';

/** The query string as it was sent, without the path. */
export function rawQuery(request: FastifyRequest): string {
  const i = request.url.indexOf('?');
  return i < 0 ? '' : request.url.slice(i + 1);
}

/** The query's parameters; a repeated one is invalid_request naming it. */
export function queryOf(request: FastifyRequest): Form {
  return parseForm(rawQuery(request));
}

/**
 * The form body; a request without one is invalid_request. The app's only body parser is the
 * application/x-www-form-urlencoded one (oauth/form.ts), so anything parsed is a Form.
 */
export function formOf(request: FastifyRequest): Form {
  const body: unknown = request.body;
  if (typeof body !== 'object' || body === null) {
    throw invalidRequest('the request body must be application/x-www-form-urlencoded');
  }
  return body as Form;
}

/** The form of a POST whose parameters are all optional: no body is an empty form. */
export function optionalFormOf(request: FastifyRequest): Form {
  return request.body === undefined ? EMPTY_FORM : formOf(request);
}

/**
 * A free-text parameter, at most `max` characters (absent or empty: undefined). Caps keep what a
 * client may make the server hash, store or echo small.
 */
export function capped(form: Form, name: string, max: number): string | undefined {
  const v = form[name];
  if (v === undefined || v === '') return undefined;
  if (v.length > max) throw invalidRequest(`${name} is too long (at most ${max} characters)`);
  return v;
}
