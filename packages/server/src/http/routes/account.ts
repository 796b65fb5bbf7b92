// The account page (/oauth2/account), beyond the book, which leaves such a page to clients: the user's
// sessions with apps (ended one by one or an app's at once, through sessions/revoke.ts), two-factor
// sign-in (set up, turn off), the browsers remembered for it, and signing out everywhere. It needs a
// signed-in browser; without one it sends the user through its own sign-in (account-login.ts), which
// returns here. Every form carries a CSRF token bound to the browser's session.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { attemptSucceeded, beginAttempt, lockoutKey } from '../../accounts/lockout.ts';
import { verifyPassword } from '../../accounts/passwords.ts';
import {
  beginEnrolment,
  disableTwoFactor,
  finishEnrolment,
  pendingEnrolment,
  verifyTotp,
} from '../../accounts/two-factor.ts';
import { seconds } from '../../clock.ts';
import type { AppContext } from '../../context.ts';
import { mask } from '../../oauth/masking.ts';
import { signOutEverywhere } from '../../sessions/end.ts';
import { type GeoLookup, geoLookup, sessionPlaces } from '../../sessions/geo.ts';
import { revokeOwnClientSessions, revokeOwnSession } from '../../sessions/revoke.ts';
import { describeAgent } from '../../sessions/user-agent.ts';
import type { UserRecord } from '../../store/types.ts';
import { type AccountSession, accountPage } from '../../ui/account-pages.ts';
import { signedOutPage } from '../../ui/pages.ts';
import {
  type BrowserSession,
  browserId,
  csrfToken,
  csrfValid,
  currentBrowserSession,
  pageHeaders,
  signOut,
} from '../browser.ts';
import { formExpired } from '../errors.ts';
import { capped, formOf } from '../input.ts';
import { accountInvitationSections, registerAccountInvitations } from './account-invitations.ts';

const MAX_TOKEN = 256;
const MAX_PASSWORD = 1024;
const MAX_CODE = 32;

export async function registerAccount(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const base = `${ctx.config.basePath}/oauth2/account`;
  const now = () => seconds(ctx.clock);
  const actions = {
    begin: `${base}/2fa/begin`,
    enable: `${base}/2fa/enable`,
    disable: `${base}/2fa/disable`,
    forget: `${base}/browsers/forget`,
    everywhere: `${base}/sign-out-everywhere`,
    revokeSession: `${base}/sessions/revoke`,
    revokeClient: `${base}/sessions/revoke-client`,
  };
  const binding = (session: BrowserSession) => `account ${session.hash}`;

  app.get(base, async (request, reply) => {
    const signedIn = await signedInUser(request);
    if (!signedIn) return reply.redirect(`${base}/login`, 303);
    return showAccount(request, reply, signedIn.session, signedIn.user, 200);
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

  // Sessions end through sessions/revoke.ts: only the signed-in user's own, and a refusal changes nothing.
  app.post(actions.revokeSession, async (request, reply) => {
    const { session, user, form } = await formSession(request);
    const ended = await revokeOwnSession(ctx, user.user_id, capped(form, 'session_id', 64) ?? '', now());
    return showAccount(request, reply, session, user, ended ? 200 : 404, {
      ...(ended ? { notice: 'That session has ended.' } : { error: 'No such session.' }),
    });
  });

  app.post(actions.revokeClient, async (request, reply) => {
    const { session, user, form } = await formSession(request);
    const clientId = capped(form, 'client_id', 256) ?? '';
    const ended = clientId ? await revokeOwnClientSessions(ctx, user.user_id, clientId, now()) : 0;
    return showAccount(request, reply, session, user, ended ? 200 : 404, {
      ...(ended
        ? { notice: `${ended === 1 ? 'That app’s session has' : `${ended} sessions have`} ended.` }
        : { error: 'You have no session with that app.' }),
    });
  });

  app.post(actions.everywhere, async (request, reply) => {
    const { session, user } = await formSession(request);
    const t = now();
    await signOutEverywhere(ctx.store, user.user_id, t);
    await signOut(ctx, reply, session, t);
    return pageHeaders(reply).send(signedOutPage());
  });

  registerAccountInvitations(app, ctx, { formSession, showAccount });

  // ---- helpers

  async function signedInUser(request: FastifyRequest) {
    const session = await currentBrowserSession(ctx, request, now());
    if (!session) return undefined;
    const user = await ctx.store.users.byId(session.record.user_id);
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
    const csrf = csrfToken(ctx, browserId(ctx, request, reply), binding(session));
    return pageHeaders(reply.code(status)).send(
      accountPage({
        user: { name: user.display_name, email: user.username },
        csrfToken: csrf,
        sections: await accountInvitationSections(ctx, user, csrf),
        actions,
        clients: await sessionGroups(request, user.user_id, t),
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

  /** The user's live sessions with every client, grouped by client (by name), newest first in each. */
  async function sessionGroups(request: FastifyRequest, userId: string, t: number) {
    const sessions = await ctx.store.sessions.liveOfUser(userId, undefined, t);
    if (!sessions.length) return [];
    const lookup = await geoLookup(ctx.config).catch((err): GeoLookup => {
      request.log.warn({ err, geoip_db: ctx.config.geoipDb }, 'GeoIP database cannot be read');
      return () => null;
    });
    const groups = new Map<string, { clientId: string; name: string; sessions: AccountSession[] }>();
    for (const s of sessions) {
      let group = groups.get(s.client_id);
      if (!group) {
        const client = await ctx.store.getClient(s.client_id);
        group = { clientId: s.client_id, name: client?.client_name ?? s.client_id, sessions: [] };
        groups.set(s.client_id, group);
      }
      const { last } = sessionPlaces(lookup, s);
      const place = [last.city, ...(last.subdivisions ?? []), last.country].filter(Boolean).join(', ');
      group.sessions.push({
        id: s.session_id,
        device: describeAgent(s.last_user_agent ?? s.first_user_agent),
        place: place || 'Place unknown',
        ip: s.last_ip ?? '',
        created: minute(s.auth_time),
        lastActivity: minute(s.last_activity),
        impersonation: Number(s.impersonated) === 1 ? (s.impersonation_note ?? 'no note') : false,
      });
    }
    return [...groups.values()].sort((a, b) => a.name.localeCompare(b.name, 'en'));
  }
}

function day(t: number): string {
  return new Date(t * 1000).toISOString().slice(0, 10);
}

function minute(t: number): string {
  return `${new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
