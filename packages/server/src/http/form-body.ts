import type { FastifyRequest } from 'fastify';
import { invalidRequest } from '../oauth/errors.ts';
import { EMPTY_FORM, type Form } from '../oauth/form.ts';

// The app registers one body parser, for forms (http/app.ts): any other content type is refused before a
// handler runs, so a handler sees a parsed Form or no body at all.

/** The form of a POST whose parameters are required; no body is invalid_request. */
export function formBody(request: FastifyRequest): Form {
  const body = request.body;
  if (typeof body !== 'object' || body === null) {
    throw invalidRequest('the request body must be application/x-www-form-urlencoded');
  }
  return body as Form;
}

/** The form of a POST whose parameters are all optional: no body is an empty form. */
export function optionalFormBody(request: FastifyRequest): Form {
  return request.body === undefined ? EMPTY_FORM : formBody(request);
}
