// The Device Authorization Grant's rules (RFC 8628) as pure functions:
// - the user code is 8 letters from an alphabet without vowels (no words) and without look-alikes
//   (no 0/O, 1/I/L, 5/S...), shown as two groups of four; 20^8 codes, about 34 bits (section 6.1);
// - what the user types is forgiven case, spaces and dashes before it is compared;
// - a device that polls faster than its interval is answered slow_down, and must wait 5 s more from
//   then on (section 3.5).
import { randomInt } from 'node:crypto';

export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;

/** Seconds added to a device's poll interval by each slow_down (RFC 8628 section 3.5). */
export const SLOW_DOWN_PENALTY = 5;

/** A fresh user code, in its display form (WDJB-MJHT). */
export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return formatUserCode(code);
}

/** The display form of a normalised user code: two groups of four. */
export function formatUserCode(normalised: string): string {
  return `${normalised.slice(0, 4)}-${normalised.slice(4)}`;
}

/**
 * What the user typed, as it is stored and compared: upper case, without spaces or dashes. Undefined
 * when it cannot be a user code (wrong length or a character outside the alphabet).
 */
export function normaliseUserCode(typed: string): string | undefined {
  const code = typed.replace(/[\s-]/g, '').toUpperCase();
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return code;
}
