import { invalidScope } from './errors.ts';
import { printable } from './printable.ts';

export const SCOPES: Readonly<Record<string, string>> = {
  'iracing.auth': 'Authorization for iRacing services.',
  'iracing.profile': 'Access to the iRacing profile.',
};

// RFC 6749 scope-token characters: %x21 / %x23-5B / %x5D-7E.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Parses a space-separated scope parameter. Unknown, duplicated or malformed scopes are invalid_scope.
 * An absent or empty parameter asks for no scope.
 */
export function parseScope(raw: string | undefined): string[] {
  if (raw === undefined || raw === '') return [];
  const parts = raw.split(' ');
  const seen = new Set<string>();
  for (const part of parts) {
    if (part === '') throw invalidScope('scope is malformed: scopes are separated by single spaces');
    if (!SCOPE_TOKEN.test(part)) throw invalidScope(`scope "${printable(part)}" has disallowed characters`);
    if (!Object.hasOwn(SCOPES, part)) throw invalidScope(`scope "${printable(part)}" is unknown`);
    if (seen.has(part)) throw invalidScope(`scope "${printable(part)}" is duplicated`);
    seen.add(part);
  }
  return parts;
}

export function formatScope(scopes: readonly string[]): string | null {
  return scopes.length > 0 ? scopes.join(' ') : null;
}

/** The scopes of a stored (already checked) scope string. */
export function scopeList(scope: string | null): string[] {
  return scope ? scope.split(' ') : [];
}

export function scopeDescriptions(scopes: readonly string[]): string[] {
  return scopes.map((s) => (Object.hasOwn(SCOPES, s) ? SCOPES[s]! : s));
}
