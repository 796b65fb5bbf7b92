import { invalidRequest } from './errors.ts';
import { printable } from './printable.ts';

export type Form = Readonly<Record<string, string>>;

/**
 * No parameter's syntax admits a control character, tab aside (RFC 6749 Appendix A); refusing them here
 * also keeps a NUL from the database, which PostgreSQL answers with an error.
 */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

export const EMPTY_FORM: Form = Object.freeze(Object.create(null));

/**
 * Parses an application/x-www-form-urlencoded body. A repeated parameter is invalid_request
 * naming it (RFC 6749 section 3.2: parameters must not be included more than once).
 */
export function parseForm(body: string): Form {
  const out: Record<string, string> = Object.create(null);
  if (body === '') return out;
  const params = new URLSearchParams(body);
  for (const [name, value] of params) {
    if (name in out) throw invalidRequest(`${printable(name)} is repeated`);
    if (hasControl(name) || hasControl(value)) {
      throw invalidRequest(`${printable(name)} contains a control character`);
    }
    out[name] = value;
  }
  return out;
}

/** Returns the named parameter, or invalid_request naming it when it is missing or empty. */
export function required(form: Form, name: string): string {
  const v = form[name];
  if (v === undefined || v === '') throw invalidRequest(`${name} missing`);
  return v;
}

export function optional(form: Form, name: string): string | undefined {
  const v = form[name];
  return v === undefined || v === '' ? undefined : v;
}
