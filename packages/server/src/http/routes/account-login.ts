// The account page's own sign-in (/oauth2/account/login), for a browser that reaches the page signed
// out: the sign-in sequence of /authorize's pages (accounts/browser-sign-in.ts: password, then code,
// the same limits and lockouts), ending back at the page instead of at an app.
// - a sign-in request here is a random id with an expiry, worth something only with the CSRF token bound
//   to it; it is made at the per-IP rate of /authorize's pending requests (one counter for both) and
//   expires as they do, so its cap of attempts cannot be escaped by reloading the page;
// - between the password and the code, the half-signed-in state is a record signed with the CSRF key and
//   bound to this browser's id, so it is worth nothing elsewhere and only for a few minutes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { codeStep, passwordStep } from '../../accounts/browser-sign-in.ts';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { normalizeId } from '../../oauth/masking.ts';
import { overLimit } from '../../rate-limit.ts';
import type { UserRecord } from '../../store/types.ts';
import { randomToken } from '../../tokens/hash.ts';
import { codePage, loginPage } from '../../ui/pages.ts';
import { browserId, csrfToken, csrfValid, pageHeaders, signingInBrowser } from '../browser.ts';
import { formExpired } from '../errors.ts';
import { capped, formOf, queryOf } from '../input.ts';

/** Seconds a correct password waits for its code. */
const PENDING_TTL = 300;
/** Seconds a sign-in request lives, as /authorize's pending requests do. */
const REQUEST_TTL = 900;
const NONCE = /^[A-Za-z0-9_-]{32}\.\d{1,12}$/;
const MAX_TOKEN = 256;
const MAX_EMAIL = 320;
const MAX_PASSWORD = 1024;
const MAX_CODE = 32;

/** The account page, as the sign-in pages' "client". */
const ACCOUNT_CLIENT = {
  client_id: 'paddock-account',
  client_name: 'your account',
  developer_name: null,
  developer_url: null,
};

export async function registerAccountLogin(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const page = `${ctx.config.basePath}/oauth2/account`;
  const base = `${page}/login`;
  const now = () => seconds(ctx.clock);
  // The developer portal signs in here and asks to come back (?return=developer); nothing else may.
  const returnTo = (request: FastifyRequest) =>
    ctx.config.selfService !== 'off' && queryOf(request).return === 'developer' ? '?return=developer' : '';
  const after = (request: FastifyRequest) =>
    returnTo(request) ? `${ctx.config.basePath}/oauth2/developer` : page;

  app.get(base, async (request, reply) => {
    const nonce = await newSignInRequest(request, reply);
    return nonce ? showLogin(request, reply, nonce, 200) : reply;
  });

  app.post(base, async (request, reply) => {
    const form = formOf(request);
    const nonce = capped(form, 'request_id', MAX_TOKEN) ?? '';
    if (
      !liveRequest(nonce) ||
      !csrfValid(ctx, request, `account-login ${nonce}`, capped(form, 'csrf_token', MAX_TOKEN))
    )
      throw formExpired();
    const email = (capped(form, 'email', MAX_EMAIL) ?? '').trim();
    const password = capped(form, 'password', MAX_PASSWORD) ?? '';
    if (!email || !password)
      return showLogin(request, reply, nonce, 400, 'Enter your email and password.', email);
    const t = now();
    const result = await passwordStep(
      ctx,
      signingInBrowser(ctx, request, reply),
      { requestId: `account:${nonce}`, username: normalizeId(email), password, verify: false },
      t,
    );
    switch (result.outcome) {
      case 'throttled':
      case 'locked':
        reply.header('Retry-After', String(result.retryAfter));
        return showLogin(request, reply, nonce, 429, 'Too many sign-in attempts. Try again later.', email);
      case 'request_spent': {
        const fresh = await newSignInRequest(request, reply);
        const msg = 'Too many sign-in attempts. Start again.';
        return fresh ? showLogin(request, reply, fresh, 429, msg, email) : reply;
      }
      case 'refused':
        return showLogin(request, reply, nonce, 401, 'Email or password is not correct.', email);
      case 'code_needed': {
        const pending = pendingToken(request, reply, result.user.user_id, t + PENDING_TTL);
        return showCode(request, reply, pending, false, 200);
      }
    }
    return reply.redirect(after(request), 303);
  });

  app.get(`${base}/code`, async (request, reply) => {
    const query = queryOf(request);
    const pending = capped(query, 'request_id', MAX_TOKEN) ?? '';
    if (!(await pendingUser(request, pending))) return reply.redirect(`${base}${returnTo(request)}`, 303);
    return showCode(request, reply, pending, query.recovery === '1', 200);
  });

  app.post(`${base}/code`, async (request, reply) => {
    const form = formOf(request);
    const pending = capped(form, 'request_id', MAX_TOKEN) ?? '';
    if (!csrfValid(ctx, request, `account-login ${pending}`, capped(form, 'csrf_token', MAX_TOKEN)))
      throw formExpired();
    const user = await pendingUser(request, pending);
    if (!user) return reply.redirect(base, 303);
    const recovery = form.recovery === '1';
    const code = (capped(form, 'code', MAX_CODE) ?? '').trim();
    if (!code) return showCode(request, reply, pending, recovery, 400, 'Enter the code.');
    const result = await codeStep(
      ctx,
      signingInBrowser(ctx, request, reply),
      { requestId: `account:${pending}`, user, code, recovery, remember: form.remember === '1' },
      now(),
    );
    switch (result.outcome) {
      case 'throttled':
      case 'locked':
        reply.header('Retry-After', String(result.retryAfter));
        return showCode(request, reply, pending, recovery, 429, 'Too many wrong codes. Try again later.');
      case 'request_spent':
        return reply.redirect(base, 303);
      case 'refused':
        return showCode(request, reply, pending, recovery, 401, 'That code is not correct.');
    }
    return reply.redirect(after(request), 303);
  });

  /** A new sign-in request, within the per-IP rate; undefined when over it (the refusal is sent). */
  async function newSignInRequest(request: FastifyRequest, reply: FastifyReply) {
    const t = now();
    const { window, authorizeIpLimit } = ctx.config.signIn;
    const wait = await overLimit(ctx.store, `authorize:ip:${request.ip}`, authorizeIpLimit, window, t);
    if (wait === 0) return `${randomToken(24)}.${t + REQUEST_TTL}`;
    ctx.metrics.rateLimitExceeded('authorize_ip');
    reply.header('Retry-After', String(wait));
    const msg = 'Too many sign-in attempts from your network. Try again later.';
    await showLogin(request, reply, '', 429, msg);
    return undefined;
  }

  function liveRequest(nonce: string): boolean {
    return NONCE.test(nonce) && Number(nonce.split('.')[1]) > now();
  }

  function showLogin(
    request: FastifyRequest,
    reply: FastifyReply,
    nonce: string,
    status: number,
    error?: string,
    email?: string,
  ) {
    return pageHeaders(reply.code(status)).send(
      loginPage({
        action: `${base}${returnTo(request)}`,
        requestId: nonce,
        csrfToken: csrfToken(ctx, browserId(ctx, request, reply), `account-login ${nonce}`),
        client: ACCOUNT_CLIENT,
        error,
        email,
      }),
    );
  }

  function showCode(
    request: FastifyRequest,
    reply: FastifyReply,
    pending: string,
    recovery: boolean,
    status: number,
    error?: string,
  ) {
    return pageHeaders(reply.code(status)).send(
      codePage({
        action: `${base}/code${returnTo(request)}`,
        pageUrl: `${base}/code`,
        requestId: pending,
        csrfToken: csrfToken(ctx, browserId(ctx, request, reply), `account-login ${pending}`),
        client: ACCOUNT_CLIENT,
        recovery,
        rememberDays: ctx.config.twoFactorRememberDays,
        error,
      }),
    );
  }

  /** The half-signed-in record: user, expiry, and a MAC over both and this browser's id. */
  function pendingToken(
    request: FastifyRequest,
    reply: FastifyReply,
    userId: string,
    expires: number,
  ): string {
    const browser = browserId(ctx, request, reply);
    return `${userId}.${expires}.${csrfToken(ctx, browser, `account-pending ${userId} ${expires}`)}`;
  }

  async function pendingUser(request: FastifyRequest, token: string): Promise<UserRecord | undefined> {
    const [userId, expires, mac, ...rest] = token.split('.');
    if (!userId || !expires || !mac || rest.length || !/^\d+$/.test(expires) || Number(expires) <= now())
      return undefined;
    if (!csrfValid(ctx, request, `account-pending ${userId} ${expires}`, mac)) return undefined;
    return ctx.store.users.byId(userId);
  }
}
