// The account page (/oauth2/account), beyond the book, which leaves such a page to clients: two-factor
// sign-in (set up, turn off), the browsers remembered for it, and signing out everywhere. It needs a
// signed-in browser; without one it sends the user through a sign-in of its own that returns to it: the
// same password and code pages, the same limits and lockouts (accounts/sign-in.ts, two-factor.ts), with
// no pending authorization request. Between the password and the code, the half-signed-in state is a
// record signed with the CSRF key and bound to this browser's id, so it is worth nothing elsewhere and
// only for a few minutes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { attemptSucceeded, beginAttempt, lockoutKey } from '../../accounts/lockout.ts';
import { verifyPassword } from '../../accounts/passwords.ts';
import { signInWithPassword } from '../../accounts/sign-in.ts';
import {
  beginEnrolment,
  checkSecondFactor,
  disableTwoFactor,
  finishEnrolment,
  hasTwoFactor,
  pendingEnrolment,
  verifyTotp,
} from '../../accounts/two-factor.ts';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { OAuthError } from '../../oauth/errors.ts';
import { mask, normalizeId } from '../../oauth/masking.ts';
import type { UserRecord } from '../../store/types.ts';
import { randomToken, sha256 } from '../../tokens/hash.ts';
import { accountPage, codePage, loginPage, signedOutPage } from '../../ui/pages.ts';
import {
  type BrowserSession,
  browserId,
  bypassOf,
  csrfToken,
  csrfValid,
  currentBrowserSession,
  knownBrowser,
  pageHeaders,
  rememberBrowser,
  rememberForTwoFactor,
  signIn,
  signOut,
} from '../browser.ts';
import { capped, formOf, queryOf } from '../input.ts';

/** Minutes a correct password waits for its code on the account sign-in. */
const PENDING_TTL = 300;
const MAX_TOKEN = 256;
const MAX_EMAIL = 320;
const MAX_PASSWORD = 1024;
const MAX_CODE = 32;

/** The account page, as the pages' "client". */
const ACCOUNT_CLIENT = {
  client_id: 'paddock-account',
  client_name: 'your account',
  developer_name: null,
  developer_url: null,
};

const formExpired = () =>
  new OAuthError('invalid_request', 'the form has expired or did not come from this site: start again', {
    status: 403,
  });

export async function registerAccount(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const base = `${ctx.config.basePath}/oauth2/account`;
  const now = () => seconds(ctx.clock);
  const actions = {
    begin: `${base}/2fa/begin`,
    enable: `${base}/2fa/enable`,
    disable: `${base}/2fa/disable`,
    forget: `${base}/browsers/forget`,
    everywhere: `${base}/sign-out-everywhere`,
  };
  const binding = (session: BrowserSession) => `account ${session.hash}`;
  // The developer portal signs in here and asks to come back (?return=developer); nothing else may.
  const returnTo = (request: FastifyRequest) =>
    ctx.config.selfService !== 'off' && queryOf(request).return === 'developer' ? '?return=developer' : '';
  const after = (request: FastifyRequest) =>
    returnTo(request) ? `${ctx.config.basePath}/oauth2/developer` : base;

  app.get(base, async (request, reply) => {
    const signedIn = await signedInUser(request);
    if (!signedIn) return reply.redirect(`${base}/login`, 303);
    return showAccount(request, reply, signedIn.session, signedIn.user, 200);
  });

  // ---- the account page's own sign-in

  app.get(`${base}/login`, async (request, reply) => showLogin(request, reply, randomToken(24), 200));

  app.post(`${base}/login`, async (request, reply) => {
    const form = formOf(request);
    const nonce = capped(form, 'request_id', MAX_TOKEN) ?? '';
    if (!nonce || !csrfValid(ctx, request, `account-login ${nonce}`, capped(form, 'csrf_token', MAX_TOKEN)))
      throw formExpired();
    const email = (capped(form, 'email', MAX_EMAIL) ?? '').trim();
    const password = capped(form, 'password', MAX_PASSWORD) ?? '';
    if (!email || !password)
      return showLogin(request, reply, nonce, 400, 'Enter your email and password.', email);
    const username = normalizeId(email);
    const t = now();
    const result = await signInWithPassword(
      ctx,
      {
        ip: request.ip,
        requestId: `account:${nonce}`,
        username,
        password,
        knownBrowser: knownBrowser(ctx, request, username),
      },
      t,
    );
    switch (result.outcome) {
      case 'throttled':
      case 'locked':
        reply.header('Retry-After', String(result.retryAfter));
        return showLogin(request, reply, nonce, 429, 'Too many sign-in attempts. Try again later.', email);
      case 'request_spent':
        return showLogin(
          request,
          reply,
          randomToken(24),
          429,
          'Too many sign-in attempts. Start again.',
          email,
        );
      case 'refused':
        return showLogin(request, reply, nonce, 401, 'Email or password is not correct.', email);
    }
    const user = result.user;
    if (await hasTwoFactor(ctx.store, user.user_id)) {
      const bypass = bypassOf(ctx, request);
      if (bypass && (await ctx.store.twoFactor.useRememberedBrowser(bypass, user.user_id, t, request.ip)))
        return complete(request, reply, user, bypass);
      const pending = pendingToken(request, reply, user.user_id, t + PENDING_TTL);
      return showCode(request, reply, pending, false, 200);
    }
    return complete(request, reply, user, null);
  });

  app.get(`${base}/login/code`, async (request, reply) => {
    const query = queryOf(request);
    const pending = capped(query, 'request_id', MAX_TOKEN) ?? '';
    if (!(await pendingUser(request, pending)))
      return reply.redirect(`${base}/login${returnTo(request)}`, 303);
    return showCode(request, reply, pending, query.recovery === '1', 200);
  });

  app.post(`${base}/login/code`, async (request, reply) => {
    const form = formOf(request);
    const pending = capped(form, 'request_id', MAX_TOKEN) ?? '';
    if (!csrfValid(ctx, request, `account-login ${pending}`, capped(form, 'csrf_token', MAX_TOKEN)))
      throw formExpired();
    const user = await pendingUser(request, pending);
    if (!user) return reply.redirect(`${base}/login`, 303);
    const recovery = form.recovery === '1';
    const code = (capped(form, 'code', MAX_CODE) ?? '').trim();
    if (!code) return showCode(request, reply, pending, recovery, 400, 'Enter the code.');
    const t = now();
    const mark = knownBrowser(ctx, request, user.username);
    const result = await checkSecondFactor(
      ctx,
      {
        ip: request.ip,
        requestId: `account:${pending}`,
        user,
        code,
        recovery,
        knownBrowser: mark && sha256(mark),
      },
      t,
    );
    switch (result.outcome) {
      case 'throttled':
      case 'locked':
        reply.header('Retry-After', String(result.retryAfter));
        return showCode(request, reply, pending, recovery, 429, 'Too many wrong codes. Try again later.');
      case 'request_spent':
        return reply.redirect(`${base}/login`, 303);
      case 'refused':
        return showCode(request, reply, pending, recovery, 401, 'That code is not correct.');
    }
    const bypass =
      form.remember === '1' ? await rememberForTwoFactor(ctx, request, reply, user.user_id, t) : null;
    return complete(request, reply, user, bypass);
  });

  // ---- the page's forms

  app.post(actions.begin, async (request, reply) => {
    const { session, user } = await formSession(request);
    const begun = await beginEnrolment(ctx, user, now());
    if (!begun)
      return showAccount(request, reply, session, user, 409, { error: 'Two-factor sign-in is already on.' });
    return showAccount(request, reply, session, user, 200);
  });

  app.post(actions.enable, async (request, reply) => {
    const { session, user, form } = await formSession(request);
    const codes = await finishEnrolment(ctx, user.user_id, capped(form, 'code', MAX_CODE) ?? '', now());
    if (!codes)
      return showAccount(request, reply, session, user, 400, {
        error: 'That code is not correct. Try the next one.',
      });
    return showAccount(request, reply, session, user, 200, { recoveryCodes: codes });
  });

  app.post(actions.disable, async (request, reply) => {
    const { session, user, form } = await formSession(request);
    const proof = capped(form, 'proof', MAX_PASSWORD) ?? '';
    // Guesses here count on the second factor's lockout, as on the code page.
    const key = lockoutKey(user.username, { channel: 'second_factor' });
    const lockedFor = await beginAttempt(ctx, key, now());
    if (lockedFor > 0)
      return showAccount(request, reply, session, user, 429, {
        error: 'Too many wrong codes. Try again later.',
      });
    const ok =
      proof !== '' &&
      ((await verifyTotp(ctx, user.user_id, proof)) ||
        (await verifyPassword(user.password_hash, mask(proof, user.username))));
    if (!ok)
      return showAccount(request, reply, session, user, 401, {
        error: 'That code or password is not correct.',
      });
    await attemptSucceeded(ctx, key);
    await disableTwoFactor(ctx.store, user.user_id, now());
    return showAccount(request, reply, session, user, 200, { notice: 'Two-factor sign-in is off.' });
  });

  app.post(actions.forget, async (request, reply) => {
    const { session, user, form } = await formSession(request);
    const id = capped(form, 'browser', 64) ?? '';
    const forgot =
      /^[A-Za-z0-9_-]{43}$/.test(id) &&
      (await ctx.store.twoFactor.revokeRememberedBrowser(id, now(), user.user_id));
    return showAccount(request, reply, session, user, forgot ? 200 : 404, {
      ...(forgot
        ? { notice: 'That browser will be asked for a code again.' }
        : { error: 'No such remembered browser.' }),
    });
  });

  app.post(actions.everywhere, async (request, reply) => {
    const { session, user } = await formSession(request);
    const t = now();
    await ctx.store.transaction(async (tx) => {
      await tx.revokeUserBrowserSessions(user.user_id, t);
      await tx.revokeUserSessions(user.user_id, 'signed_out_everywhere', t);
      await tx.twoFactor.revokeUserRememberedBrowsers(user.user_id, t);
    });
    await signOut(ctx, reply, session, t);
    return pageHeaders(reply).send(signedOutPage());
  });

  // ---- helpers

  async function signedInUser(request: FastifyRequest) {
    const session = await currentBrowserSession(ctx, request, now());
    if (!session) return undefined;
    const user = await ctx.store.getUserById(session.record.user_id);
    return user && { session, user };
  }

  /** A form post of the page: a signed-in browser, and the page's CSRF token bound to its session. */
  async function formSession(request: FastifyRequest) {
    const form = formOf(request);
    const signedIn = await signedInUser(request);
    if (
      !signedIn ||
      !csrfValid(ctx, request, binding(signedIn.session), capped(form, 'csrf_token', MAX_TOKEN))
    )
      throw formExpired();
    return { ...signedIn, form };
  }

  async function showAccount(
    request: FastifyRequest,
    reply: FastifyReply,
    session: BrowserSession,
    user: UserRecord,
    status: number,
    extra: { recoveryCodes?: string[]; notice?: string; error?: string } = {},
  ) {
    const t = now();
    const totp = await ctx.store.twoFactor.getTotp(user.user_id);
    const enabled = totp?.enabled_at != null;
    const enrolling = !enabled ? await pendingEnrolment(ctx, user) : undefined;
    const browsers = await ctx.store.twoFactor.listRememberedBrowsers(user.user_id, t);
    return pageHeaders(reply.code(status)).send(
      accountPage({
        user: { name: user.display_name, email: user.username },
        csrfToken: csrfToken(ctx, browserId(ctx, request, reply), binding(session)),
        actions,
        twoFactor: {
          enabled,
          since: enabled ? day(totp!.enabled_at!) : '',
          recoveryLeft: enabled ? await ctx.store.twoFactor.recoveryCodesLeft(user.user_id) : 0,
        },
        ...(enrolling && {
          enrolment: {
            secret: enrolling.secret,
            qr: await QRCode.toDataURL(enrolling.uri, { margin: 1, width: 200 }),
          },
        }),
        recoveryCodes: extra.recoveryCodes,
        browsers: browsers.map((b) => ({
          id: b.bypass_hash,
          device: describeAgent(b.user_agent),
          created: day(b.created_at),
          lastUsed: day(b.last_used_at),
          ip: b.ip ?? '',
        })),
        notice: extra.notice,
        error: extra.error,
      }),
    );
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
        action: `${base}/login${returnTo(request)}`,
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
        action: `${base}/login/code${returnTo(request)}`,
        pageUrl: `${base}/login/code`,
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
    return ctx.store.getUserById(userId);
  }

  async function complete(
    request: FastifyRequest,
    reply: FastifyReply,
    user: UserRecord,
    bypass: string | null,
  ) {
    const session = await signIn(ctx, request, reply, user.user_id, now());
    if (bypass) await ctx.store.twoFactor.setBrowserSessionBypass(session.hash, bypass);
    rememberBrowser(ctx, request, reply, user.username);
    return reply.redirect(after(request), 303);
  }
}

function day(t: number): string {
  return new Date(t * 1000).toISOString().slice(0, 10);
}

/** A short name for a browser from its User-Agent, for the list; the raw string when unknown. */
export function describeAgent(ua: string | null): string {
  if (!ua) return 'Unknown browser';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : undefined;
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Android/.test(ua)
      ? 'Android'
      : /iPhone|iPad/.test(ua)
        ? 'iOS'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : undefined;
  if (!browser && !os) return ua.slice(0, 80);
  return [browser ?? 'A browser', os && `on ${os}`].filter(Boolean).join(' ');
}
