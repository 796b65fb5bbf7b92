/**
 * Reuse of a refresh token. The book makes each one single use, and a second presentation is treated as
 * theft (RFC 9700 section 4.14.2): the session is revoked. An operator may allow one exception for
 * answers lost on the way (PADDOCK_REFRESH_REUSE_GRACE): the token rotated at `usedAt` may be presented
 * again while the grace lasts, and then only if its successor was never used (checked atomically by the
 * store when it consumes that successor).
 */
export function mayRetryRotation(usedAt: number, now: number, graceSeconds: number): boolean {
  return graceSeconds > 0 && now - usedAt <= graceSeconds;
}
