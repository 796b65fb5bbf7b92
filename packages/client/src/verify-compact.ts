/** Step 1: a well-formed JWS in compact serialization, its header and payload JSON objects. */
import { decodeBase64url } from './encoding.ts';
import { isObject, type Json } from './json.ts';
import { fail } from './verify-error.ts';

const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function parseCompact(token: unknown): { header: Json; payload: Json } {
  if (typeof token !== 'string') fail('malformed', 'the token is not a string');
  const parts = token.split('.');
  if (parts.length !== 3) fail('malformed', 'the token is not a compact JWS (three dot-separated parts)');
  const [h, p, s] = parts as [string, string, string];
  // The signature may be empty here: an unsigned token is then rejected as alg "none" (step 3).
  if (h === '' || p === '' || ![h, p, s].every((part) => BASE64URL.test(part) && part.length % 4 !== 1)) {
    fail('malformed', 'the token has a part that is not base64url');
  }
  return {
    header: parseJsonObject(decodeBase64url(h), 'header'),
    payload: parseJsonObject(decodeBase64url(p), 'payload'),
  };
}

export function parseJsonObject(bytes: Uint8Array, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    fail('malformed', `the token's ${what} is not UTF-8 JSON`);
  }
  if (!isObject(value)) fail('malformed', `the token's ${what} is not a JSON object`);
  return value;
}
