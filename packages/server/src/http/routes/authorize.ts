// /authorize and the pages it leads through, as parse, call, render: the parameters are checked by
// oauth/authorize-request.ts, what the request still needs (sign-in, consent) is decided by
// oauth/consent.ts, the sign-in sequence (password, then code) by accounts/browser-sign-in.ts; the
// route ends in a single-use code (with the issuer, RFC 9207) or an error at the redirect URI.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { codeStep, passwordStep } from '../../accounts/browser-sign-in.ts';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { checkAuthorizeRequest, RedirectableError } from '../../oauth/authorize-request.ts';
import { needsConsent, needsSignIn } from '../../oauth/consent.ts';
import { invalidRequest, OAuthError } from '../../oauth/errors.ts';
import { normalizeId } from '../../oauth/masking.ts';
import { formActionSource, withParams } from '../../oauth/redirect-match.ts';
import { SCOPES, scopeList } from '../../oauth/scopes.ts';
import { overLimit } from '../../rate-limit.ts';
import type { AuthorizationRequestRecord, ClientRecord, UserRecord } from '../../store/types.ts';
import { randomToken, sha256 } from '../../tokens/hash.ts';
import { codePage, consentPage, loginPage } from '../../ui/pages.ts';
import {
  type BrowserSession,
  browserHash,
  browserId,
  csrfToken,
  csrfValid,
  currentBrowserSession,
  pageHeaders,
  signingInBrowser,
  signOutCsrfToken,
} from '../browser.ts';
import { formExpired, redirectError } from '../errors.ts';
import { capped, formOf, queryOf, rawQuery } from '../input.ts';
import { limited, requestSpent } from '../sign-in-refusals.ts';
import { endDeviceRequest } from './device.ts';

/** How long a user has to sign in and decide. */
const REQUEST_TTL = 900;

// Our own ids and tokens are short; an email address has at most 320 characters; a password of 1,024
// characters is a long passphrase. Anything longer is refused before it is hashed or looked up.
const MAX_ID = 64;
const MAX_CSRF = 128;
const MAX_EMAIL = 320;
const MAX_PASSWORD = 1024;
/** A TOTP code with spaces, or a recovery code with dashes and spaces. */
const MAX_CODE = 32;

const expired = () =>
  invalidRequest('this sign-in request has expired or was already used: go back to the app and start again');

export async function registerAuthorize(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const base = `${ctx.config.basePath}/oauth2`;
  const now = () => seconds(ctx.clock);

  app.get(`${base}/authorize`, async (request, reply) => {
    let params: Awaited<ReturnType<typeof checkAuthorizeRequest>>;
    try {
      params = await checkAuthorizeRequest(rawQuery(request), (id) => ctx.store.getClient(id));
    } catch (err) {
      if (err instanceof RedirectableError) {
        return redirectError(ctx.config, reply, err.redirectUri, err.oauth, err.state, 302);
      }
      throw err;
    }
    const t = now();
    // A pending request is a row anyone can make the server write: only for valid parameters, and at
    // a bounded rate per IP (the rows themselves expire after REQUEST_TTL).
    const { window, authorizeIpLimit } = ctx.config.signIn;
    if ((await overLimit(ctx.store, `authorize:ip:${request.ip}`, authorizeIpLimit, window, t)) > 0) {
      ctx.metrics.rateLimitExceeded('authorize_ip');
      const busy = new OAuthError(
        'temporarily_unavailable',
        'too many sign-in requests from this network: try again in a few minutes',
        { reason: 'rate_limited' },
      );
      return redirectError(ctx.config, reply, params.redirect_uri, busy, params.state, 302);
    }
    const ar: AuthorizationRequestRecord = {
      request_id: randomToken(24),
      client_id: params.client.client_id,
      redirect_uri: params.redirect_uri,
      scope: params.scope,
      state: params.state ?? null,
      code_challenge: params.code_challenge,
      code_challenge_method: params.code_challenge_method,
      prompt: params.prompt.join(' ') || null,
      verified_session: null,
      created_at: t,
      expires_at: t + REQUEST_TTL,
    };
    await ctx.store.flow.insertAuthorizationRequest(ar);
    const session = await currentBrowserSession(ctx, request, t);
    return proceed(request, reply, ar, params.client, session, 302);
  });

  app.get(`${base}/login`, async (request, reply) => {
    const ar = await requestFrom(capped(queryOf(request), 'request_id', MAX_ID));
    return showLogin(request, reply, ar, await clientOf(ar), 200);
  });

  app.post(`${base}/login`, async (request, reply) => {
    const form = formOf(request);
    const ar = await requestFrom(capped(form, 'request_id', MAX_ID));
    if (!csrfValid(ctx, request, ar.request_id, capped(form, 'csrf_token', MAX_CSRF))) throw formExpired();
    const client = await clientOf(ar);
    const email = (capped(form, 'email', MAX_EMAIL) ?? '').trim();
    const password = capped(form, 'password', MAX_PASSWORD) ?? '';
    if (!email || !password)
      return showLogin(request, reply, ar, client, 400, 'Enter your email and password.', email);
    const username = normalizeId(email);
    const t = now();
    const result = await passwordStep(
      ctx,
      signingInBrowser(ctx, request, reply),
      { requestId: ar.request_id, username, password, verify: promptsVerify(ar) },
      t,
    );
    switch (result.outcome) {
      case 'throttled':
      case 'locked':
        return showLogin(request, reply, ar, client, 429, limited(ctx, reply, result, 'password'), email);
      case 'request_spent':
        throw requestSpent();
      case 'refused':
        return showLogin(request, reply, ar, client, 401, 'Email or password is not correct.', email);
      case 'code_needed': {
        // Half signed in: the request holds the user until the code, for this browser only.
        const browser = browserHash(ctx, request)!;
        await ctx.store.twoFactor.holdPendingUser(ar.request_id, result.user.user_id, browser);
        return reply.redirect(`${base}/login/code?request_id=${ar.request_id}`, 303);
      }
    }
    return signedIn(request, reply, ar, client, result.session);
  });

  app.get(`${base}/login/code`, async (request, reply) => {
    const query = queryOf(request);
    const ar = await requestFrom(capped(query, 'request_id', MAX_ID));
    const user = await pendingUserOf(request, ar);
    if (!user) return toLogin(reply, ar, 303);
    return showCode(request, reply, ar, await clientOf(ar), query.recovery === '1', 200);
  });

  app.post(`${base}/login/code`, async (request, reply) => {
    const form = formOf(request);
    const ar = await requestFrom(capped(form, 'request_id', MAX_ID));
    if (!csrfValid(ctx, request, ar.request_id, capped(form, 'csrf_token', MAX_CSRF))) throw formExpired();
    const client = await clientOf(ar);
    const user = await pendingUserOf(request, ar);
    if (!user) return toLogin(reply, ar, 303);
    const recovery = form.recovery === '1';
    const code = (capped(form, 'code', MAX_CODE) ?? '').trim();
    if (!code) return showCode(request, reply, ar, client, recovery, 400, 'Enter the code.');
    const result = await codeStep(
      ctx,
      signingInBrowser(ctx, request, reply),
      { requestId: ar.request_id, user, code, recovery, remember: form.remember === '1' },
      now(),
    );
    switch (result.outcome) {
      case 'throttled':
      case 'locked':
        return showCode(request, reply, ar, client, recovery, 429, limited(ctx, reply, result, 'code'));
      case 'request_spent':
        throw requestSpent();
      case 'refused':
        return showCode(request, reply, ar, client, recovery, 401, 'That code is not correct.');
    }
    await ctx.store.twoFactor.clearPendingUser(ar.request_id);
    return signedIn(request, reply, ar, client, result.session);
  });

  app.get(`${base}/consent`, async (request, reply) => {
    const ar = await requestFrom(capped(queryOf(request), 'request_id', MAX_ID));
    const session = await currentBrowserSession(ctx, request, now());
    if (!session || needsSignIn(ar, session.hash)) return toLogin(reply, ar, 303);
    const [client, user] = await Promise.all([clientOf(ar), ctx.store.users.byId(session.record.user_id)]);
    if (!user) return toLogin(reply, ar, 303);
    return pageHeaders(reply, [formActionSource(ar.redirect_uri)]).send(
      consentPage({
        action: `${base}/consent`,
        requestId: ar.request_id,
        csrfToken: csrfToken(ctx, browserId(ctx, request, reply), ar.request_id),
        client: clientInfo(client),
        scopes: scopeList(ar.scope).map((name) => ({ name, description: SCOPES[name] ?? name })),
        user: { name: user.display_name, email: user.username },
        signOut: { action: `${base}/logout`, csrfToken: signOutCsrfToken(ctx, request, reply, session!) },
        device: Boolean(ar.device_code_hash),
        accountUrl: `${base}/account`,
      }),
    );
  });

  app.post(`${base}/consent`, async (request, reply) => {
    const form = formOf(request);
    const ar = await requestFrom(capped(form, 'request_id', MAX_ID));
    if (!csrfValid(ctx, request, ar.request_id, capped(form, 'csrf_token', MAX_CSRF))) throw formExpired();
    const session = await currentBrowserSession(ctx, request, now());
    if (!session || needsSignIn(ar, session.hash)) return toLogin(reply, ar, 303);
    if (form.decision === 'deny') {
      // Device sign-in (RFC 8628): the decision goes to the device code, not to a redirect URI.
      if (ar.device_code_hash) {
        return endDevice(reply, { ...ar, device_code_hash: ar.device_code_hash }, session, 'denied');
      }
      if (!(await ctx.store.flow.finishAuthorizationRequest(ar.request_id))) throw expired();
      const denied = new OAuthError('access_denied', 'the user denied the request');
      return redirectError(ctx.config, reply, ar.redirect_uri, denied, ar.state ?? undefined, 303);
    }
    if (form.decision !== 'allow') throw invalidRequest('decision must be allow or deny');
    await ctx.store.flow.saveConsent(session.record.user_id, ar.client_id, scopeList(ar.scope), now());
    return issueCode(request, reply, ar, session, 303);
  });

  /** The browser signed in within this request, every factor given: on to consent or the code. */
  async function signedIn(
    request: FastifyRequest,
    reply: FastifyReply,
    ar: AuthorizationRequestRecord,
    client: ClientRecord,
    session: BrowserSession,
  ) {
    await ctx.store.flow.markRequestVerified(ar.request_id, session.hash);
    return proceed(request, reply, { ...ar, verified_session: session.hash }, client, session, 303);
  }

  /** The user this browser gave the right password for within this request, who still owes a code. */
  async function pendingUserOf(
    request: FastifyRequest,
    ar: AuthorizationRequestRecord,
  ): Promise<UserRecord | undefined> {
    const held = await ctx.store.twoFactor.pendingUser(ar.request_id, now());
    const mine = browserHash(ctx, request);
    if (!held?.pending_user || !held.pending_browser || !mine || !sameHash(held.pending_browser, mine))
      return undefined;
    return ctx.store.users.byId(held.pending_user);
  }

  function showCode(
    request: FastifyRequest,
    reply: FastifyReply,
    ar: AuthorizationRequestRecord,
    client: ClientRecord,
    recovery: boolean,
    status: number,
    error?: string,
  ) {
    // The code's form may end at the app's redirect URI, as the sign-in form's does.
    return pageHeaders(reply.code(status), [formActionSource(ar.redirect_uri)]).send(
      codePage({
        action: `${base}/login/code`,
        pageUrl: `${base}/login/code`,
        requestId: ar.request_id,
        csrfToken: csrfToken(ctx, browserId(ctx, request, reply), ar.request_id),
        client: clientInfo(client),
        recovery,
        rememberDays: ctx.config.twoFactorRememberDays,
        error,
      }),
    );
  }

  async function requestFrom(requestId: string | undefined): Promise<AuthorizationRequestRecord> {
    const ar = requestId ? await ctx.store.flow.getAuthorizationRequest(requestId, now()) : undefined;
    if (!ar) throw expired();
    return ar;
  }

  /** A device sign-in (RFC 8628) ends at its device code, approved or denied, not at a redirect URI. */
  async function endDevice(
    reply: FastifyReply,
    ar: AuthorizationRequestRecord & { device_code_hash: string },
    session: BrowserSession,
    outcome: 'approved' | 'denied',
  ) {
    const client = await clientOf(ar);
    return endDeviceRequest(ctx, reply, ar, session, outcome, client.client_name);
  }

  async function clientOf(ar: AuthorizationRequestRecord): Promise<ClientRecord> {
    const client = await ctx.store.getClient(ar.client_id);
    if (!client || client.disabled_at !== null)
      throw new OAuthError('unauthorized_client', 'client is disabled');
    return client;
  }

  function toLogin(reply: FastifyReply, ar: AuthorizationRequestRecord, status: 302 | 303) {
    return reply.redirect(`${base}/login?request_id=${ar.request_id}`, status);
  }

  function showLogin(
    request: FastifyRequest,
    reply: FastifyReply,
    ar: AuthorizationRequestRecord,
    client: ClientRecord,
    status: number,
    error?: string,
    email?: string,
  ) {
    return pageHeaders(reply.code(status), [formActionSource(ar.redirect_uri)]).send(
      loginPage({
        action: `${base}/login`,
        requestId: ar.request_id,
        csrfToken: csrfToken(ctx, browserId(ctx, request, reply), ar.request_id),
        client: clientInfo(client),
        error,
        email,
      }),
    );
  }

  /** Signs in, asks for consent, or issues the code, whichever the request still needs. */
  async function proceed(
    request: FastifyRequest,
    reply: FastifyReply,
    ar: AuthorizationRequestRecord,
    client: ClientRecord,
    session: BrowserSession | undefined,
    status: 302 | 303,
  ) {
    if (!session || needsSignIn(ar, session.hash)) return toLogin(reply, ar, status);
    const granted = await ctx.store.flow.getConsent(session.record.user_id, ar.client_id);
    const device = Boolean(ar.device_code_hash);
    if (needsConsent({ granted, asked: scopeList(ar.scope), client, redirectUri: ar.redirect_uri, device }))
      return reply.redirect(`${base}/consent?request_id=${ar.request_id}`, status);
    return issueCode(request, reply, ar, session, status);
  }

  async function issueCode(
    request: FastifyRequest,
    reply: FastifyReply,
    ar: AuthorizationRequestRecord,
    session: BrowserSession,
    status: 302 | 303,
  ) {
    // Device sign-in (RFC 8628): the device code is approved instead of a code being issued.
    if (ar.device_code_hash) {
      return endDevice(reply, { ...ar, device_code_hash: ar.device_code_hash }, session, 'approved');
    }
    // Deleting the request is the atomic step: a double submission issues one code.
    if (!(await ctx.store.flow.finishAuthorizationRequest(ar.request_id))) throw expired();
    const code = randomToken(32);
    const t = now();
    const codeHash = sha256(code);
    await ctx.store.flow.insertAuthorizationCode({
      code_hash: codeHash,
      client_id: ar.client_id,
      user_id: session.record.user_id,
      redirect_uri: ar.redirect_uri,
      scope: ar.scope,
      code_challenge: ar.code_challenge,
      code_challenge_method: ar.code_challenge_method,
      auth_time: session.record.auth_time,
      ip: request.ip,
      user_agent: request.headers['user-agent'] ?? null,
      created_at: t,
      expires_at: t + ctx.config.codeTtl,
      used_at: null,
      session_id: null,
    });
    // The session this code starts remembers the 2FA bypass the browser signed in through.
    const bypass = await ctx.store.twoFactor.browserSessionBypass(session.hash);
    if (bypass) await ctx.store.twoFactor.setCodeBypass(codeHash, bypass);
    const params = { code, state: ar.state ?? undefined, iss: ctx.config.issuer };
    return reply.redirect(withParams(ar.redirect_uri, params), status);
  }
}

function promptsVerify(ar: AuthorizationRequestRecord): boolean {
  return ar.prompt?.split(' ').includes('verify') === true;
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function clientInfo(c: ClientRecord) {
  return {
    client_id: c.client_id,
    client_name: c.client_name,
    developer_name: c.developer_name,
    developer_url: c.developer_url,
  };
}
