/**
 * A client-supplied value as it may appear in an error description: printable ASCII only, each other
 * character a "?", and short, so no control character, markup-breaking byte or megabyte reaches a
 * response or a log.
 */
export function printable(s: string, max = 64): string {
  return s.slice(0, max).replace(/[^\x20-\x7e]/g, '?');
}
