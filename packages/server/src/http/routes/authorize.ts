// /authorize and the pages it leads through: sign-in (unless the browser is signed in and the request
// does not say prompt=verify), consent (unless the user already allowed these scopes to this client),
// then a single-use code at the redirect URI.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { attemptSucceeded, beginAttempt } from '../../accounts/lockout.ts';
import { verifyPassword } from '../../accounts/passwords.ts';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { checkAuthorizeRequest, RedirectableError } from '../../oauth/authorize-request.ts';
import { invalidRequest, OAuthError } from '../../oauth/errors.ts';
import type { Form } from '../../oauth/form.ts';
import { mask, normalizeId } from '../../oauth/masking.ts';
import { formActionSource, withParams } from '../../oauth/redirect-match.ts';
import { SCOPES } from '../../oauth/scopes.ts';
import type { AuthorizationRequestRecord, ClientRecord } from '../../store/types.ts';
import { randomToken, sha256 } from '../../tokens/hash.ts';
import { consentPage, loginPage } from '../../ui/pages.ts';
import {
  type BrowserSession,
  browserId,
  csrfToken,
  csrfValid,
  currentBrowserSession,
  pageHeaders,
  signIn,
  signOutCsrfToken,
} from '../browser.ts';
import { errorUri } from '../errors.ts';

/** How long a user has to sign in and decide. */
const REQUEST_TTL = 900;

const expired = () =>
  invalidRequest('this sign-in request has expired or was already used: go back to the app and start again');

export async function registerAuthorize(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const base = `${ctx.config.basePath}/oauth2`;
  const now = () => seconds(ctx.clock);

  app.get(`${base}/authorize`, async (request, reply) => {
    const raw = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    let params: Awaited<ReturnType<typeof checkAuthorizeRequest>>;
    try {
      params = await checkAuthorizeRequest(raw, (id) => ctx.store.getClient(id));
    } catch (err) {
      if (err instanceof RedirectableError) {
        return redirectError(reply, err.redirectUri, err.oauth, err.state, 302);
      }
      throw err;
    }
    const t = now();
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
    await ctx.store.insertAuthorizationRequest(ar);
    return proceed(request, reply, ar, await currentBrowserSession(ctx, request, t), 302);
  });

  app.get(`${base}/login`, async (request, reply) => {
    const ar = await requestFrom((request.query as Record<string, string>).request_id);
    const client = await clientOf(ar);
    return showLogin(request, reply, ar, client, 200);
  });

  app.post(`${base}/login`, async (request, reply) => {
    const form = request.body as Form;
    const ar = await requestFrom(form.request_id);
    if (!csrfValid(ctx, request, ar.request_id, form.csrf_token)) throw formExpired();
    const client = await clientOf(ar);
    const email = (form.email ?? '').trim();
    const password = form.password ?? '';
    if (!email || !password)
      return showLogin(request, reply, ar, client, 400, 'Enter your email and password.', email);
    const username = normalizeId(email);
    const t = now();
    const lockedFor = await beginAttempt(ctx, username, t);
    if (lockedFor > 0) {
      const minutes = Math.ceil(lockedFor / 60);
      const msg = `Too many failed sign-ins. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
      reply.header('Retry-After', String(lockedFor));
      return showLogin(request, reply, ar, client, 429, msg, email);
    }
    const user = await ctx.store.getUserByUsername(username);
    // The form carries the password itself; it is masked here exactly as API clients mask it.
    if (!(await verifyPassword(user?.password_hash, mask(password, username))) || !user) {
      return showLogin(request, reply, ar, client, 401, 'Email or password is not correct.', email);
    }
    await attemptSucceeded(ctx, username);
    const session = await signIn(ctx, request, reply, user.user_id, t);
    await ctx.store.markRequestVerified(ar.request_id, session.hash);
    return proceed(request, reply, { ...ar, verified_session: session.hash }, session, 303);
  });

  app.get(`${base}/consent`, async (request, reply) => {
    const ar = await requestFrom((request.query as Record<string, string>).request_id);
    const session = await currentBrowserSession(ctx, request, now());
    if (needsSignIn(ar, session)) return reply.redirect(`${base}/login?request_id=${ar.request_id}`, 303);
    const [client, user] = await Promise.all([clientOf(ar), ctx.store.getUserById(session!.record.user_id)]);
    if (!user) return reply.redirect(`${base}/login?request_id=${ar.request_id}`, 303);
    const scopes = ar.scope ? ar.scope.split(' ') : [];
    return pageHeaders(reply, [formActionSource(ar.redirect_uri)]).send(
      consentPage({
        action: `${base}/consent`,
        requestId: ar.request_id,
        csrfToken: csrfToken(ctx, browserId(ctx, request, reply), ar.request_id),
        client: clientInfo(client),
        scopes: scopes.map((name) => ({ name, description: SCOPES[name] ?? name })),
        user: { name: user.display_name, email: user.username },
        signOut: { action: `${base}/logout`, csrfToken: signOutCsrfToken(ctx, request, reply, session!) },
      }),
    );
  });

  app.post(`${base}/consent`, async (request, reply) => {
    const form = request.body as Form;
    const ar = await requestFrom(form.request_id);
    if (!csrfValid(ctx, request, ar.request_id, form.csrf_token)) throw formExpired();
    const session = await currentBrowserSession(ctx, request, now());
    if (needsSignIn(ar, session)) return reply.redirect(`${base}/login?request_id=${ar.request_id}`, 303);
    if (form.decision === 'deny') {
      if (!(await ctx.store.finishAuthorizationRequest(ar.request_id))) throw expired();
      const denied = new OAuthError('access_denied', 'the user denied the request');
      return redirectError(reply, ar.redirect_uri, denied, ar.state ?? undefined, 303);
    }
    if (form.decision !== 'allow') throw invalidRequest('decision must be allow or deny');
    await ctx.store.saveConsent(
      session!.record.user_id,
      ar.client_id,
      ar.scope ? ar.scope.split(' ') : [],
      now(),
    );
    return issueCode(request, reply, ar, session!, 303);
  });

  async function requestFrom(requestId: string | undefined): Promise<AuthorizationRequestRecord> {
    const ar = requestId ? await ctx.store.getAuthorizationRequest(requestId, now()) : undefined;
    if (!ar) throw expired();
    return ar;
  }

  async function clientOf(ar: AuthorizationRequestRecord): Promise<ClientRecord> {
    const client = await ctx.store.getClient(ar.client_id);
    if (!client || client.disabled_at !== null)
      throw new OAuthError('unauthorized_client', 'client is disabled');
    return client;
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
    session: BrowserSession | undefined,
    status: 302 | 303,
  ) {
    if (needsSignIn(ar, session)) return reply.redirect(`${base}/login?request_id=${ar.request_id}`, status);
    const granted = await ctx.store.getConsent(session!.record.user_id, ar.client_id);
    const asked = ar.scope ? ar.scope.split(' ') : [];
    if (granted && asked.every((s) => granted.includes(s)))
      return issueCode(request, reply, ar, session!, status);
    return reply.redirect(`${base}/consent?request_id=${ar.request_id}`, status);
  }

  async function issueCode(
    request: FastifyRequest,
    reply: FastifyReply,
    ar: AuthorizationRequestRecord,
    session: BrowserSession,
    status: 302 | 303,
  ) {
    // Deleting the request is the atomic step: a double submission issues one code.
    if (!(await ctx.store.finishAuthorizationRequest(ar.request_id))) throw expired();
    const code = randomToken(32);
    const t = now();
    await ctx.store.insertAuthorizationCode({
      code_hash: sha256(code),
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
    return reply.redirect(withParams(ar.redirect_uri, { code, state: ar.state ?? undefined }), status);
  }

  function redirectError(
    reply: FastifyReply,
    redirectUri: string,
    err: OAuthError,
    state: string | undefined,
    status: 302 | 303,
  ) {
    reply.header('Cache-Control', 'no-store');
    return reply.redirect(
      withParams(redirectUri, {
        error: err.error,
        error_description: err.description,
        error_uri: errorUri(ctx.config, err.error),
        state,
      }),
      status,
    );
  }
}

/** prompt=verify asks for a sign-in within this very request, whatever the browser remembers. */
function needsSignIn(ar: AuthorizationRequestRecord, session: BrowserSession | undefined): boolean {
  if (!session) return true;
  return ar.prompt?.split(' ').includes('verify') === true && ar.verified_session !== session.hash;
}

function formExpired() {
  return new OAuthError(
    'invalid_request',
    'the form has expired or did not come from this site: start again',
    {
      status: 403,
    },
  );
}

function clientInfo(c: ClientRecord) {
  return {
    client_id: c.client_id,
    client_name: c.client_name,
    developer_name: c.developer_name,
    developer_url: c.developer_url,
  };
}
