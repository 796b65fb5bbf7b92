// What pages need of the browser: its signed-in session, a CSRF token bound to it, and page headers.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SigningInBrowser } from '../accounts/browser-sign-in.ts';
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

const LONG_COOKIE_AGE = 400 * 86400;

export interface BrowserSession {
  record: BrowserSessionRecord;
  hash: string;
}

/**
 * On an https issuer the cookies carry the __Host- prefix, which the browser honours only with Secure,
 * Path=/ and no Domain, so no subdomain or plain-http page can plant or shadow them. On http (local
 * development) they keep plain names below the oauth2 path.
 */
function cookies(ctx: AppContext) {
  const https = ctx.config.issuer.startsWith('https:');
  const prefix = https ? '__Host-' : '';
  const options = (maxAge: number) => ({
    path: https ? '/' : `${ctx.config.basePath}/oauth2/`,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: https,
    maxAge,
  });
  return {
    session: `${prefix}paddock_session`,
    browser: `${prefix}paddock_browser`,
    /** The marks of the users this browser has signed in as (accounts/known-browsers.ts). */
    known: `${prefix}paddock_known`,
    /** A remembered browser's 2FA bypass: a random id, stored server-side only as a hash. */
    bypass: `${prefix}paddock_2fa`,
    options,
  };
}

export async function currentBrowserSession(
  ctx: AppContext,
  request: FastifyRequest,
  now: number,
): Promise<BrowserSession | undefined> {
  const token = request.cookies[cookies(ctx).session];
  if (!token) return undefined;
  const hash = sha256(token);
  const record = await ctx.store.flow.getBrowserSession(hash, now);
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
  const jar = cookies(ctx);
  const previous = request.cookies[jar.session];
  if (previous) await ctx.store.flow.revokeBrowserSession(sha256(previous), now);
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
  await ctx.store.flow.insertBrowserSession(record);
  reply.setCookie(jar.session, token, jar.options(ctx.config.browserSessionMaxAge));
  return { record, hash: record.session_hash };
}

/** The browser's anonymous id, which CSRF tokens are bound to; set on the first page. */
export function browserId(ctx: AppContext, request: FastifyRequest, reply: FastifyReply): string {
  const jar = cookies(ctx);
  let id = request.cookies[jar.browser];
  if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) {
    id = randomBytes(32).toString('base64url');
    reply.setCookie(jar.browser, id, jar.options(LONG_COOKIE_AGE));
  }
  return id;
}

/** This browser's mark for the user, when it has signed in as them before; otherwise undefined. */
export function knownBrowser(ctx: AppContext, request: FastifyRequest, username: string): string | undefined {
  const jar = cookies(ctx);
  const browser = request.cookies[jar.browser];
  if (!browser) return undefined;
  const mark = knownBrowserMark(knownBrowserKey(ctx.csrfKey), browser, username);
  return hasMark(parseMarks(request.cookies[jar.known]), mark) ? mark : undefined;
}

/** After a successful sign-in: this browser is now known to the user. */
export function rememberBrowser(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  username: string,
): void {
  const jar = cookies(ctx);
  const browser = request.cookies[jar.browser];
  if (!browser) return;
  const mark = knownBrowserMark(knownBrowserKey(ctx.csrfKey), browser, username);
  const marks = withMark(parseMarks(request.cookies[jar.known]), mark);
  reply.setCookie(jar.known, marks.join('.'), jar.options(LONG_COOKIE_AGE));
}

/** A hash of the browser's anonymous id: what half-signed-in state is bound to. */
export function browserHash(ctx: AppContext, request: FastifyRequest): string | undefined {
  const browser = request.cookies[cookies(ctx).browser];
  return browser ? sha256(`browser:${browser}`) : undefined;
}

/** The hash of this browser's 2FA bypass cookie, if it carries one. */
export function bypassOf(ctx: AppContext, request: FastifyRequest): string | undefined {
  const token = request.cookies[cookies(ctx).bypass];
  return token && /^[A-Za-z0-9_-]{43}$/.test(token) ? sha256(token) : undefined;
}

/** Remembers this browser for the user's second factor: a new bypass, recorded and set as a cookie. */
export async function rememberForTwoFactor(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  userId: string,
  now: number,
): Promise<string> {
  const jar = cookies(ctx);
  const token = randomBytes(32).toString('base64url');
  const maxAge = ctx.config.twoFactorRememberDays * 86400;
  const hash = sha256(token);
  await ctx.store.twoFactor.insertRememberedBrowser({
    bypass_hash: hash,
    user_id: userId,
    created_at: now,
    last_used_at: now,
    expires_at: now + maxAge,
    revoked_at: null,
    ip: request.ip,
    user_agent: request.headers['user-agent'] ?? null,
  });
  reply.setCookie(jar.bypass, token, jar.options(maxAge));
  return hash;
}

/** Forgets this browser's bypass, server-side and in the browser. */
export async function forgetThisBrowser(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  now: number,
): Promise<void> {
  const hash = bypassOf(ctx, request);
  if (hash) await ctx.store.twoFactor.revokeRememberedBrowser(hash, now);
  const jar = cookies(ctx);
  if (request.cookies[jar.bypass] !== undefined) reply.clearCookie(jar.bypass, jar.options(0));
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
  const browser = request.cookies[cookies(ctx).browser];
  if (!browser || !token) return false;
  // "null" is what a sandboxed frame or a data: URL sends: never our own pages, which send their origin.
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== new URL(ctx.config.issuer).origin) return false;
  const expected = Buffer.from(csrfToken(ctx, browser, requestId));
  const got = Buffer.from(token);
  return expected.length === got.length && timingSafeEqual(expected, got);
}

/** The sign-out form has no pending request: its CSRF token is bound to the signed-in session instead. */
const signOutBinding = (session: BrowserSession) => `sign-out ${session.hash}`;

export function signOutCsrfToken(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  session: BrowserSession,
): string {
  return csrfToken(ctx, browserId(ctx, request, reply), signOutBinding(session));
}

export function signOutCsrfValid(
  ctx: AppContext,
  request: FastifyRequest,
  session: BrowserSession,
  token: string | undefined,
): boolean {
  return csrfValid(ctx, request, signOutBinding(session), token);
}

/** Signs the browser out: the stored session is revoked, so a copy of the cookie is worthless too. */
export async function signOut(
  ctx: AppContext,
  reply: FastifyReply,
  session: BrowserSession | undefined,
  now: number,
): Promise<void> {
  if (session) await ctx.store.flow.revokeBrowserSession(session.hash, now);
  const jar = cookies(ctx);
  reply.clearCookie(jar.session, jar.options(0));
}

/**
 * Headers every page gets: no caching, no framing, a strict CSP that lets the form reach the app.
 * Referrer-Policy is same-origin, not no-referrer: under no-referrer the pages' own form posts carry
 * Origin: null, which csrfValid refuses.
 */
export function pageHeaders(reply: FastifyReply, formAction: string[] = []): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('Cache-Control', 'no-store')
    .header('Pragma', 'no-cache')
    .header('X-Frame-Options', 'DENY')
    .header('Referrer-Policy', 'same-origin')
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

/** This browser, as the sign-in sequence (accounts/browser-sign-in.ts) needs it. */
export function signingInBrowser(
  ctx: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
): SigningInBrowser<BrowserSession> {
  return {
    ip: request.ip,
    knownBrowser: (username) => knownBrowser(ctx, request, username),
    bypass: () => bypassOf(ctx, request),
    forgetBypass: (now) => forgetThisBrowser(ctx, request, reply, now),
    rememberForTwoFactor: (userId, now) => rememberForTwoFactor(ctx, request, reply, userId, now),
    startSession: (userId, now) => signIn(ctx, request, reply, userId, now),
    markKnown: (username) => rememberBrowser(ctx, request, reply, username),
  };
}
