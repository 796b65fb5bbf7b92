// What /authorize's sign-in pages say when an attempt is held back by a limit or a lockout
// (accounts/sign-in.ts, accounts/two-factor.ts): how long to wait, in words and in Retry-After, counted
// in the metrics.
import type { FastifyReply } from 'fastify';
import type { SignInLimit } from '../accounts/sign-in.ts';
import type { AppContext } from '../context.ts';
import { invalidRequest } from '../oauth/errors.ts';

type Held = Extract<SignInLimit, { outcome: 'throttled' }> | { outcome: 'locked'; retryAfter: number };

/** Sets Retry-After, counts the refusal, and returns the message for the password or the code page. */
export function limited(ctx: AppContext, reply: FastifyReply, held: Held, step: 'password' | 'code'): string {
  reply.header('Retry-After', String(held.retryAfter));
  const wait = inMinutes(held.retryAfter);
  if (held.outcome === 'locked') {
    ctx.metrics.lockoutRefused('sign_in');
    return step === 'password'
      ? `Too many failed sign-ins. Try again in ${wait}.`
      : `Too many wrong codes. Try again in ${wait}.`;
  }
  ctx.metrics.rateLimitExceeded(held.by === 'ip' ? 'sign_in_ip' : 'sign_in_global');
  if (step === 'code') return `Too many sign-in attempts. Try again in ${wait}.`;
  return held.by === 'ip'
    ? `Too many sign-in attempts from your network. Try again in ${wait}.`
    : `Sign-in is busy right now. Try again in ${wait}.`;
}

/** A pending request past its attempts: the user starts again from the app. */
export function requestSpent() {
  return invalidRequest('too many sign-in attempts for this request: go back to the app and start again');
}

function inMinutes(seconds: number): string {
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
