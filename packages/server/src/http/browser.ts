// What pages need of the browser: its signed-in session, a CSRF token bound to it, and page headers.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  hasMark,
  knownBrowserKey,
  knownBrowserMark,
  parseMarks,
  withMark,
} from '../accounts/known-browsers.ts';
import type { AppContext } from '../context.ts';
import type { BrowserSessionRecord } from '../store/types.ts';
import { sha256 } from '../tokens/hash.ts';

export const SESSION_COOKIE = 'paddock_session';
const BROWSER_COOKIE = 'paddock_browser';
/** The marks of the users this browser has signed in as (accounts/known-browsers.ts). */
const KNOWN_COOKIE = 'paddock_known';
const LONG_COOKIE_AGE = 400 * 86400;

export interface BrowserSession {
  record: BrowserSessionRecord;
  hash: string;
}

function cookieOptions(ctx: AppContext, maxAge: number) {
  return {
    path: `${ctx.config.basePath}/oauth2/`,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: ctx.config.issuer.startsWith('https:'),
    maxAge,
  };
}

export async function currentBrowserSession(
  ctx: AppContext,
  request: FastifyRequest,
  now: number,
): Promise<BrowserSession | undefined> {
  const token = request.cookies[SESSION_COOKIE];
  if (!token) return undefined;
  const hash = sha256(token);
  const record = await ctx.store.getBrowserSession(hash, now);
  return record && { record, hash };
}

/** Signs the browser in: a new random session token in an HttpOnly cookie, stored only as a hash. */
export async function signIn(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  userId: string,
  now: number,
): Promise<BrowserSession> {
  const previous = request.cookies[SESSION_COOKIE];
  if (previous) await ctx.store.revokeBrowserSession(sha256(previous), now);
  const token = randomBytes(32).toString('base64url');
  const record: BrowserSessionRecord = {
    session_hash: sha256(token),
    user_id: userId,
    auth_time: now,
    created_at: now,
    expires_at: now + ctx.config.browserSessionMaxAge,
    revoked_at: null,
    ip: request.ip,
    user_agent: request.headers['user-agent'] ?? null,
  };
  await ctx.store.insertBrowserSession(record);
  reply.setCookie(SESSION_COOKIE, token, cookieOptions(ctx, ctx.config.browserSessionMaxAge));
  return { record, hash: record.session_hash };
}

/** The browser's anonymous id, which CSRF tokens are bound to; set on the first page. */
export function browserId(ctx: AppContext, request: FastifyRequest, reply: FastifyReply): string {
  let id = request.cookies[BROWSER_COOKIE];
  if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) {
    id = randomBytes(32).toString('base64url');
    reply.setCookie(BROWSER_COOKIE, id, cookieOptions(ctx, LONG_COOKIE_AGE));
  }
  return id;
}

/** This browser's mark for the user, when it has signed in as them before; otherwise undefined. */
export function knownBrowser(ctx: AppContext, request: FastifyRequest, username: string): string | undefined {
  const browser = request.cookies[BROWSER_COOKIE];
  if (!browser) return undefined;
  const mark = knownBrowserMark(knownBrowserKey(ctx.csrfKey), browser, username);
  return hasMark(parseMarks(request.cookies[KNOWN_COOKIE]), mark) ? mark : undefined;
}

/** After a successful sign-in: this browser is now known to the user. */
export function rememberBrowser(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  username: string,
): void {
  const browser = request.cookies[BROWSER_COOKIE];
  if (!browser) return;
  const mark = knownBrowserMark(knownBrowserKey(ctx.csrfKey), browser, username);
  const marks = withMark(parseMarks(request.cookies[KNOWN_COOKIE]), mark);
  reply.setCookie(KNOWN_COOKIE, marks.join('.'), cookieOptions(ctx, LONG_COOKIE_AGE));
}

export function csrfToken(ctx: AppContext, browser: string, requestId: string): string {
  return createHmac('sha256', ctx.csrfKey).update(`${browser}\n${requestId}`).digest('base64url');
}

/** A form post must carry the token of this browser and request, and come from our own origin. */
export function csrfValid(
  ctx: AppContext,
  request: FastifyRequest,
  requestId: string,
  token: string | undefined,
) {
  const browser = request.cookies[BROWSER_COOKIE];
  if (!browser || !token) return false;
  const origin = request.headers.origin;
  if (origin && origin !== 'null' && origin !== new URL(ctx.config.issuer).origin) return false;
  const expected = Buffer.from(csrfToken(ctx, browser, requestId));
  const got = Buffer.from(token);
  return expected.length === got.length && timingSafeEqual(expected, got);
}

/** Headers every page gets: no caching, no framing, a strict CSP that lets the form reach the app. */
export function pageHeaders(reply: FastifyReply, formAction: string[] = []): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('Cache-Control', 'no-store')
    .header('Pragma', 'no-cache')
    .header('X-Frame-Options', 'DENY')
    .header('Referrer-Policy', 'no-referrer')
    .header(
      'Content-Security-Policy',
      [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src 'self' data:",
        `form-action 'self' ${formAction.join(' ')}`.trim(),
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ].join('; '),
    );
}
