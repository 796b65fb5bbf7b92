// The Device Authorization Grant (RFC 8628), as parse, call, render:
// - POST /device_authorization: an authenticated client registered for the grant gets a device code
//   (for polling /token) and a user code (for the person);
// - /device: the person enters the user code; it becomes a pending authorization request bound to the
//   device code, and the browser goes through the same sign-in and consent pages as /authorize (so the
//   same throttles, lockouts and second factors apply). Consent is always asked (section 5.4: remote
//   phishing), and ends at endDeviceRequest below instead of a redirect with a code.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient } from '../../clients/authenticate.ts';
import { seconds } from '../../clock.ts';
import { endpoints } from '../../config.ts';
import type { AppContext } from '../../context.ts';
import { assertClientMayUse, GRANTS } from '../../grants/index.ts';
import { formatUserCode, generateUserCode, normaliseUserCode } from '../../oauth/device.ts';
import { invalidRequest, OAuthError } from '../../oauth/errors.ts';
import { formatScope, parseScope } from '../../oauth/scopes.ts';
import { overLimit } from '../../rate-limit.ts';
import { type AuthorizationRequestRecord, DEVICE_CODE_GRANT } from '../../store/types.ts';
import { randomToken, sha256 } from '../../tokens/hash.ts';
import { deviceDonePage, devicePage } from '../../ui/device-pages.ts';
import { type BrowserSession, browserId, csrfToken, csrfValid, pageHeaders } from '../browser.ts';
import { capped, formOf, queryOf } from '../input.ts';

/** The CSRF binding of the code entry form, which has no pending request yet. */
const ENTRY_FORM = 'device-code-entry';
/** How long a user has to sign in and decide, at most (the device code may end sooner). */
const REQUEST_TTL = 900;
// A user code is 8 letters; what people type around it (spaces, a dash) stays well under this.
const MAX_USER_CODE = 32;
const MAX_CSRF = 128;
/** Draws of a user code before giving up: a collision among live codes is already unlikely. */
const USER_CODE_DRAWS = 5;

export async function registerDevice(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const base = `${ctx.config.basePath}/oauth2`;
  const e = endpoints(ctx.config);
  const now = () => seconds(ctx.clock);

  app.post(`${base}/device_authorization`, async (request, reply) => {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    const form = formOf(request);
    const client = await authenticateClient(ctx, form);
    assertClientMayUse(client, DEVICE_CODE_GRANT, GRANTS[DEVICE_CODE_GRANT]);
    const scope = formatScope(parseScope(form.scope));
    const t = now();
    const { codeTtl, interval } = ctx.config.device;
    const deviceCode = randomToken(32);
    for (let draw = 0; draw < USER_CODE_DRAWS; draw++) {
      const userCode = generateUserCode();
      const stored = await ctx.store.device.insert(
        {
          device_code_hash: sha256(deviceCode),
          user_code_hash: sha256(normaliseUserCode(userCode)!),
          client_id: client.client_id,
          scope,
          status: 'pending',
          poll_interval: interval,
          last_polled_at: null,
          request_id: null,
          user_id: null,
          auth_time: null,
          ip: request.ip,
          user_agent: request.headers['user-agent'] ?? null,
          created_at: t,
          expires_at: t + codeTtl,
        },
        t,
      );
      if (!stored) continue;
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: e.device,
        verification_uri_complete: `${e.device}?user_code=${userCode}`,
        expires_in: codeTtl,
        interval,
      };
    }
    throw new OAuthError('temporarily_unavailable', 'no free user code could be drawn: try again');
  });

  app.get(`${base}/device`, async (request, reply) => {
    const typed = capped(queryOf(request), 'user_code', MAX_USER_CODE);
    // A code from verification_uri_complete is shown for the person to confirm, never submitted for them.
    const normalised = typed && normaliseUserCode(typed);
    return showEntry(request, reply, 200, normalised ? formatUserCode(normalised) : (typed ?? ''));
  });

  app.post(`${base}/device`, async (request, reply) => {
    const form = formOf(request);
    if (!csrfValid(ctx, request, ENTRY_FORM, capped(form, 'csrf_token', MAX_CSRF))) {
      throw new OAuthError(
        'invalid_request',
        'the form has expired or did not come from this site: start again',
        {
          status: 403,
        },
      );
    }
    const typed = (capped(form, 'user_code', MAX_USER_CODE) ?? '').trim();
    const t = now();
    const { window, ipLimit } = ctx.config.signIn;
    const key = `device:ip:${request.ip}`;
    // Guessing a live code is what these limits stop: only wrong codes are counted, and once there
    // were too many no code is looked up at all until the window ends.
    if ((await ctx.store.device.failures(key, window, t)) >= ipLimit) {
      ctx.metrics.rateLimitExceeded('device_user_code');
      reply.header('Retry-After', String(window));
      return showEntry(
        request,
        reply,
        429,
        typed,
        'Too many wrong codes from your network. Try again later.',
      );
    }
    const normalised = normaliseUserCode(typed);
    const requestId = randomToken(24);
    const claimed =
      normalised &&
      (await ctx.store.transaction(async (tx) => {
        const d = await tx.device.claimUserCode(sha256(normalised), requestId, t);
        if (!d) return undefined;
        await tx.flow.insertAuthorizationRequest({
          request_id: requestId,
          client_id: d.client_id,
          // Not a redirect target: the request ends on the device page (endDeviceRequest).
          redirect_uri: e.device,
          scope: d.scope,
          state: null,
          code_challenge: null,
          code_challenge_method: null,
          prompt: null,
          verified_session: null,
          created_at: t,
          expires_at: Math.min(t + REQUEST_TTL, d.expires_at),
          device_code_hash: d.device_code_hash,
        });
        return d;
      }));
    if (!claimed) {
      await overLimit(ctx.store, key, ipLimit, window, t);
      return showEntry(
        request,
        reply,
        400,
        typed,
        'That code is not valid. Check the code on your device: it may have expired or been used already.',
      );
    }
    return reply.redirect(`${base}/consent?request_id=${requestId}`, 303);
  });

  function showEntry(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    userCode: string,
    error?: string,
  ) {
    return pageHeaders(reply.code(status)).send(
      devicePage({
        action: `${base}/device`,
        csrfToken: csrfToken(ctx, browserId(ctx, request, reply), ENTRY_FORM),
        userCode,
        error,
      }),
    );
  }
}

/**
 * Where /authorize's consent ends for a device sign-in: the request is spent (once), the device code
 * takes the decision, and the page sends the user back to the device.
 */
export async function endDeviceRequest(
  ctx: AppContext,
  reply: FastifyReply,
  ar: AuthorizationRequestRecord & { device_code_hash: string },
  session: BrowserSession,
  decision: 'approved' | 'denied',
  clientName: string,
) {
  const t = seconds(ctx.clock);
  if (!(await ctx.store.flow.finishAuthorizationRequest(ar.request_id))) {
    throw invalidRequest('this sign-in request has expired or was already used: start again on your device');
  }
  const decided = await ctx.store.device.decide(
    ar.device_code_hash,
    decision === 'approved'
      ? { status: 'approved', userId: session.record.user_id, authTime: session.record.auth_time }
      : { status: 'denied' },
    t,
  );
  if (!decided) throw invalidRequest('the code has expired: start again on your device');
  return pageHeaders(reply).send(deviceDonePage({ approved: decision === 'approved', clientName }));
}
